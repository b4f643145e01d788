using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TaskQueue.Broker;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Sessions;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>
/// Dispatch by task type: a worker is offered only the types it handles, and ready work no worker with
/// credit handles waits without claims (no spinning) until a worker for it connects or frees a slot.
/// </summary>
public sealed class TypedDispatchTests : IAsyncLifetime, IAsyncDisposable
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

    public TypedDispatchTests()
    {
        _telemetry = new BrokerTelemetry(_meters);
        _dispatcher = new Dispatcher(_store, _sessions, Options.Create(_options), _telemetry, _time, NullLogger<Dispatcher>.Instance);
    }

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    // xunit 2 disposes a test class through IAsyncLifetime only (IAsyncDisposable alone is never called).
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync();
        _telemetry.Dispose();
        _meters.Dispose();
    }

    private WorkerSession Attach(string workerId, string[] types, int concurrency = 4)
    {
        var session = new WorkerSession(workerId, ["q"], types, concurrency, _time.GetUtcNow());
        _sessions.Register(session);
        _dispatcher.Attach(session);
        return session;
    }

    /// <summary>Waits until the queue's pump has made its passes and sleeps (on the fake clock) until woken.</summary>
    private Task PumpAsleepAsync() =>
        Eventually.TrueAsync(() => _time.TimersCreated > 0, s_bound, "the pump sleeps on the fake clock", s_poll);

    [Fact]
    public async Task Work_of_a_type_no_worker_handles_waits_without_claims_until_a_worker_for_it_connects()
    {
        var sleep = _store.AddReady("q", "sleep");
        var echoWorker = Attach("echo-worker", ["echo"]);

        await PumpAsleepAsync();
        // The claims found nothing for the echo worker; the pump sleeps instead of asking again, and a
        // wake-up (more work of that type) costs one claim before it sleeps again.
        var asleep = _store.Claims.Count;
        Assert.All(_store.Claims, c => Assert.Equal(("q", "echo-worker"), (c.Queue, c.WorkerId)));
        _store.AddReady("q", "sleep");
        _dispatcher.NotifyWork("q");
        await Eventually.TrueAsync(() => _time.TimersCreated > 1, s_bound, "the pump sleeps again", s_poll);
        Assert.Equal(asleep + 1, _store.Claims.Count);
        Assert.Equal(0, echoWorker.Busy);

        var sleepWorker = Attach("sleep-worker", ["sleep"]);

        using var timeout = new CancellationTokenSource(s_bound);
        Assert.Equal(sleep.Id.ToString(), (await sleepWorker.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
        Assert.NotEmpty((await sleepWorker.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
        Assert.False(echoWorker.Outbox.TryRead(out _));
    }

    [Fact]
    public async Task Work_waiting_for_a_busy_worker_of_its_type_goes_to_it_when_it_frees_a_slot()
    {
        var first = _store.AddReady("q", "sleep");
        var sleepWorker = Attach("sleep-worker", ["sleep"], concurrency: 1);
        using var timeout = new CancellationTokenSource(s_bound);
        Assert.Equal(first.Id.ToString(), (await sleepWorker.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
        var echoWorker = Attach("echo-worker", ["echo"]);
        var second = _store.AddReady("q", "sleep");
        _dispatcher.NotifyWork("q");
        await Eventually.TrueAsync(() => _store.Claims.Any(c => c.WorkerId == "echo-worker"), s_bound, "the idle echo worker was asked", s_poll);

        sleepWorker.Release(first.Id, first.LeaseToken);
        _dispatcher.NotifyCredit(sleepWorker);

        Assert.Equal(second.Id.ToString(), (await sleepWorker.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
        Assert.Equal(0, echoWorker.Busy);
    }

    [Fact]
    public async Task A_worker_without_a_type_list_takes_every_type()
    {
        var a = _store.AddReady("q", "a");
        var b = _store.AddReady("q", "b");

        var session = Attach("any", []);

        using var timeout = new CancellationTokenSource(s_bound);
        var first = await session.Outbox.ReadAsync(timeout.Token);
        var second = await session.Outbox.ReadAsync(timeout.Token);
        Assert.Equal(
            new[] { a.Id.ToString(), b.Id.ToString() }.Order(StringComparer.Ordinal),
            new[] { first.Assignment.TaskId, second.Assignment.TaskId }.Order(StringComparer.Ordinal));
    }
}
