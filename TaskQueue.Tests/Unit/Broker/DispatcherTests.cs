using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TaskQueue.Broker;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Sessions;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>The dispatcher's pumps: woken by work and credit, and re-checking idle queues on their own clock.</summary>
public sealed class DispatcherTests : IAsyncDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(5);
    private readonly CountingTimeProvider _time = new(DateTimeOffset.UnixEpoch);
    private readonly FakeClaimStore _store = new();
    private readonly SessionRegistry _sessions = new();
    private readonly FakeMeterFactory _meters = new();
    private readonly BrokerOptions _options = new() { IdleRecheckInterval = TimeSpan.FromHours(1) };
    private readonly BrokerTelemetry _telemetry;
    private readonly Dispatcher _dispatcher;

    public DispatcherTests()
    {
        _telemetry = new BrokerTelemetry(_meters);
        _dispatcher = new Dispatcher(_store, _sessions, Options.Create(_options), _telemetry, _time, NullLogger<Dispatcher>.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync();
        _telemetry.Dispose();
        _meters.Dispose();
    }

    private WorkerSession Attach(int concurrency = 4)
    {
        var session = new WorkerSession("worker-1", ["q"], [], concurrency, _time.GetUtcNow());
        _sessions.Register(session);
        _dispatcher.Attach(session);
        return session;
    }

    private Task WaitForClaimsAsync(int count) =>
        Eventually.TrueAsync(() => _store.Claims.Count >= count, s_bound, $"the store saw {count} claims", s_poll);

    /// <summary>Waits until the queue's pump has made its passes and sleeps (on the fake clock) until woken.</summary>
    private Task PumpAsleepAsync() =>
        Eventually.TrueAsync(() => _time.TimersCreated > 0, s_bound, "the pump sleeps on the fake clock", s_poll);

    [Fact]
    public async Task A_new_worker_gets_the_ready_work_of_its_queue()
    {
        var ready = _store.AddReady("q");

        var session = Attach();

        using var timeout = new CancellationTokenSource(s_bound);
        var message = await session.Outbox.ReadAsync(timeout.Token);
        Assert.Equal(ready.Id.ToString(), message.Assignment.TaskId);
        Assert.Equal(1, session.Busy);
    }

    [Fact]
    public async Task An_idle_queue_is_re_checked_after_the_idle_interval_of_the_dispatchers_clock()
    {
        var session = Attach();
        await WaitForClaimsAsync(1); // found nothing: the pump sleeps
        var ready = _store.AddReady("q"); // and nobody tells it (a lost wake-up)

        // The interval is an hour: only the fake clock can end the pump's sleep within the bound.
        using var timeout = new CancellationTokenSource(s_bound);
        var reading = session.Outbox.ReadAsync(timeout.Token).AsTask();
        await Eventually.AdvancingUntilAsync(_time, _options.IdleRecheckInterval, () => reading.IsCompleted, s_bound, "the idle pump re-checks the queue");

        Assert.Equal(ready.Id.ToString(), (await reading).Assignment.TaskId);
    }

    [Fact]
    public async Task Work_announced_for_a_queue_wakes_its_pump_at_once()
    {
        var session = Attach();
        await WaitForClaimsAsync(1);
        var ready = _store.AddReady("q");

        _dispatcher.NotifyWork("q");

        using var timeout = new CancellationTokenSource(s_bound);
        Assert.Equal(ready.Id.ToString(), (await session.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
    }

    [Fact]
    public async Task A_freed_slot_wakes_the_pumps_of_the_workers_queues()
    {
        var first = _store.AddReady("q");
        var session = Attach(concurrency: 1);
        using var timeout = new CancellationTokenSource(s_bound);
        await session.Outbox.ReadAsync(timeout.Token);
        var second = _store.AddReady("q");
        await PumpAsleepAsync(); // the worker is full: the pump passed it by and sleeps

        session.Release(first.Id);
        _dispatcher.NotifyCredit(session);
        Assert.Equal(second.Id.ToString(), (await session.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
    }
}
