using Microsoft.Extensions.Time.Testing;
using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>The dispatcher's and promoter's wake-up: auto-reset, remembered while nobody waits, timed by its clock.</summary>
public sealed class AsyncSignalTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(5);
    private readonly FakeTimeProvider _time = new();
    private readonly AsyncSignal _signal = new();

    [Fact]
    public async Task A_set_while_nobody_waits_is_remembered_for_the_next_wait()
    {
        _signal.Set();

        Assert.True(await _signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None, _time).WaitAsync(s_bound));
    }

    [Fact]
    public async Task Many_sets_while_nobody_waits_wake_one_wait_only()
    {
        _signal.Set();
        _signal.Set();
        Assert.True(await _signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None, _time).WaitAsync(s_bound));

        var second = _signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None, _time);
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromMinutes(1));

        Assert.False(await second.WaitAsync(s_bound));
    }

    [Fact]
    public async Task A_set_wakes_a_waiter_before_its_timeout()
    {
        var waiting = _signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None, _time);
        Assert.False(waiting.IsCompleted);

        _signal.Set();

        Assert.True(await waiting.WaitAsync(s_bound));
    }

    [Fact]
    public async Task A_wait_times_out_on_its_own_clock_and_a_later_set_is_kept_for_the_next_wait()
    {
        var waiting = _signal.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None, _time);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(waiting.IsCompleted);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(await waiting.WaitAsync(s_bound));

        _signal.Set();
        Assert.True(await _signal.WaitAsync(TimeSpan.FromMinutes(1), CancellationToken.None, _time).WaitAsync(s_bound));
    }

    [Fact]
    public async Task A_cancelled_wait_throws()
    {
        using var cancel = new CancellationTokenSource();
        var waiting = _signal.WaitAsync(TimeSpan.FromMinutes(1), cancel.Token, _time);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(s_bound));
    }
}
