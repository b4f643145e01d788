using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TaskQueue.Broker.Services;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>
/// The reaper's outage blame: leases that expire while Redis (or the broker) was stuck, and until every
/// worker has heartbeated again, do not count towards quarantine.
/// </summary>
public sealed class OutageBlameTests
{
    private static readonly TimeSpan s_heartbeat = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new();
    private readonly OutageBlame _blame;

    public OutageBlameTests() => _blame = new OutageBlame(s_heartbeat, _time.GetUtcNow(), NullLogger.Instance);

    /// <summary>A call to Redis that took <paramref name="took"/>, made <paramref name="after"/> the previous answer.</summary>
    private bool Call(TimeSpan took, TimeSpan? after = null)
    {
        _time.Advance(after ?? TimeSpan.FromMilliseconds(500));
        var started = _time.GetUtcNow();
        _time.Advance(took);
        return _blame.Observe(started, _time.GetUtcNow());
    }

    [Fact]
    public void Prompt_answers_blame_nothing() =>
        Assert.All(Enumerable.Range(0, 50), _ => Assert.False(Call(TimeSpan.FromMilliseconds(20))));

    [Fact]
    public void A_call_stuck_for_longer_than_a_heartbeat_interval_excuses_the_expiries_it_returns()
    {
        Assert.False(Call(TimeSpan.FromMilliseconds(20)));

        Assert.True(Call(s_heartbeat + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void A_call_exactly_a_heartbeat_interval_long_is_no_outage() =>
        Assert.False(Call(s_heartbeat, after: TimeSpan.Zero));

    [Fact]
    public void A_long_silence_between_answers_counts_as_an_outage_even_when_each_call_was_quick()
    {
        // The broker itself was frozen (a stopped VM, a long GC pause): renewals were stuck too.
        Assert.True(Call(TimeSpan.FromMilliseconds(20), after: s_heartbeat + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Expiries_stay_excused_for_two_heartbeat_intervals_after_the_outage_and_count_again_after()
    {
        Assert.True(Call(TimeSpan.FromSeconds(15)));
        var answered = _time.GetUtcNow();

        // The reaper's next calls, prompt again, every half second.
        var excused = new List<(TimeSpan After, bool Excused)>();
        while (_time.GetUtcNow() - answered < s_heartbeat * 3)
        {
            var result = Call(TimeSpan.FromMilliseconds(20));
            excused.Add((_time.GetUtcNow() - answered, result));
        }

        Assert.All(excused.Where(e => e.After < s_heartbeat * 2), e => Assert.True(e.Excused, $"{e.After} after"));
        Assert.All(excused.Where(e => e.After >= s_heartbeat * 2), e => Assert.False(e.Excused, $"{e.After} after"));
    }
}
