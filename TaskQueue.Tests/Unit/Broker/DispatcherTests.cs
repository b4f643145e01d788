using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TaskQueue.Broker;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>The dispatcher's pumps: woken by work and credit, and re-checking idle queues on their own clock.</summary>
public sealed class DispatcherTests : IAsyncLifetime, IAsyncDisposable
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

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    // xunit 2 disposes a test class through IAsyncLifetime only (IAsyncDisposable alone is never called).
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync();
        _telemetry.Dispose();
        _meters.Dispose();
    }

    private WorkerSession Attach(int concurrency = 4, string workerId = "worker-1", IReadOnlyList<string>? taskTypes = null)
    {
        var session = new WorkerSession(workerId, ["q"], taskTypes ?? [], concurrency, _time.GetUtcNow());
        _sessions.Register(session);
        _dispatcher.Attach(session);
        return session;
    }

    private Task WaitForClaimsAsync(int count) =>
        Eventually.TrueAsync(() => _store.Claims.Count >= count, s_bound, $"the store saw {count} claims", s_poll);

    /// <summary>Waits until the queue's pump has made its passes and sleeps (on the fake clock) until woken.</summary>
    private Task PumpAsleepAsync() =>
        Eventually.TrueAsync(() => _time.TimersCreated > 0, s_bound, "the pump sleeps on the fake clock", s_poll);

    /// <summary>
    /// Waits until the pump went to sleep once more than <paramref name="sleepsBefore"/> times: a sleep with no
    /// wake-up pending is the only one that creates a timer, so every pass the last wake-up caused is over.
    /// </summary>
    private Task PumpAsleepAgainAsync(int sleepsBefore) =>
        Eventually.TrueAsync(() => _time.TimersCreated > sleepsBefore, s_bound, "the pump sleeps again", s_poll);

    private static async Task<(WorkerSession Session, string TaskId)> FirstAssignmentAsync(IEnumerable<WorkerSession> sessions)
    {
        using var timeout = new CancellationTokenSource(s_bound);
        var reads = sessions.Select(async session => (session, (await session.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId)).ToList();
        return await await Task.WhenAny(reads);
    }

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
    public async Task Work_a_rate_limit_held_back_is_claimed_when_the_limit_admits_more_not_after_the_idle_interval()
    {
        _store.Hold = new ClaimHold(true, TimeSpan.FromMilliseconds(200));
        var session = Attach();
        await PumpAsleepAsync(); // the claim found work held back: the pump sleeps until the limit admits more
        _store.Hold = ClaimHold.None;
        var ready = _store.AddReady("q"); // nobody announces it: only the hold's time can wake the pump

        _time.Advance(TimeSpan.FromMilliseconds(200)); // the idle interval is an hour

        using var timeout = new CancellationTokenSource(s_bound);
        Assert.Equal(ready.Id.ToString(), (await session.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
    }

    [Fact]
    public async Task Work_held_until_a_lease_ends_waits_for_a_wake_up_not_a_timer()
    {
        _store.Hold = ClaimHold.UntilReleased;
        var session = Attach();
        await PumpAsleepAsync();
        _store.Hold = ClaimHold.None;
        var ready = _store.AddReady("q");

        _time.Advance(TimeSpan.FromSeconds(1)); // no timer but the idle interval's (an hour)
        using var timeout = new CancellationTokenSource(s_bound);
        var reading = session.Outbox.ReadAsync(timeout.Token).AsTask();
        await Task.Delay(TimeSpan.FromMilliseconds(100));
        Assert.False(reading.IsCompleted, "a pump held until a lease ends claimed on a timer");

        _dispatcher.NotifyWork("q"); // what a lease's end publishes
        Assert.Equal(ready.Id.ToString(), (await reading).Assignment.TaskId);
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

        session.Release(first.Id, first.LeaseToken);
        _dispatcher.NotifyCredit(session);
        Assert.Equal(second.Id.ToString(), (await session.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
    }

    [Fact]
    public async Task A_wake_up_for_one_task_claims_for_one_worker_not_for_every_worker()
    {
        var sessions = AttachQuietly(Enumerable.Range(1, 4).Select(i => NewSession($"worker-{i}")).ToList());
        await PumpAsleepAsync();
        var (claimsBefore, sleepsBefore) = (_store.Claims.Count, _time.TimersCreated);
        var ready = _store.AddReady("q");

        _dispatcher.NotifyWork("q");

        Assert.Equal(ready.Id.ToString(), (await FirstAssignmentAsync(sessions)).TaskId);
        await PumpAsleepAgainAsync(sleepsBefore);
        Assert.Equal(claimsBefore + 1, _store.Claims.Count);
    }

    [Fact]
    public async Task A_lone_task_goes_to_the_worker_with_the_most_free_slots()
    {
        var busy = new List<WorkerSession>();
        for (var i = 1; i <= 3; i++)
        {
            var session = Attach(concurrency: 2, workerId: $"busy-{i}");
            busy.Add(session);
            _store.AddReady("q");
            _dispatcher.NotifyWork("q");
            await FirstAssignmentAsync([session]); // the newcomer has the most free slots: it takes one of its two
        }

        var idle = Attach(concurrency: 2, workerId: "idle");
        var ready = _store.AddReady("q");

        _dispatcher.NotifyWork("q");

        var (winner, taskId) = await FirstAssignmentAsync([.. busy, idle]);
        Assert.Equal((ready.Id.ToString(), "idle"), (taskId, winner.WorkerId));
    }

    [Fact]
    public async Task A_wake_up_claims_for_one_worker_of_each_set_of_task_types()
    {
        // The image workers have more free slots, but only the mail worker handles the task: it must still be asked.
        var mail = NewSession("mail", concurrency: 2, taskTypes: ["send"]);
        var images = Enumerable.Range(1, 2).Select(i => NewSession($"images-{i}", taskTypes: ["resize"])).ToList();
        AttachQuietly([mail, .. images]);
        await PumpAsleepAsync();
        var (claimsBefore, sleepsBefore) = (_store.Claims.Count, _time.TimersCreated);
        var ready = _store.AddReady("q", type: "send");

        _dispatcher.NotifyWork("q");

        using var timeout = new CancellationTokenSource(s_bound);
        Assert.Equal(ready.Id.ToString(), (await mail.Outbox.ReadAsync(timeout.Token)).Assignment.TaskId);
        await PumpAsleepAgainAsync(sleepsBefore);
        Assert.Equal(
            [("images", 1), ("mail", 1)],
            _store.Claims.Skip(claimsBefore).GroupBy(c => c.WorkerId.Split('-')[0]).Select(g => (g.Key, g.Count())).OrderBy(g => g.Key, StringComparer.Ordinal));
        Assert.All(images, session => Assert.Equal(0, session.Busy));
    }

    [Fact]
    public async Task A_claim_that_comes_back_full_is_followed_by_claims_for_every_worker_with_free_slots()
    {
        _options.MaxClaimBatch = 2;
        var sessions = AttachQuietly(Enumerable.Range(1, 4).Select(i => NewSession($"worker-{i}")).ToList());
        await PumpAsleepAsync();
        var claimsBefore = _store.Claims.Count;
        for (var i = 0; i < 8; i++)
        {
            _store.AddReady("q");
        }

        _dispatcher.NotifyWork("q");

        await Eventually.TrueAsync(() => sessions.Sum(s => s.Busy) == 8, s_bound, "the eight tasks are assigned", s_poll);
        // One worker's claim came back full (2 of 2): then every worker was asked.
        Assert.Equal(
            sessions.Select(s => s.WorkerId).Order(StringComparer.Ordinal),
            _store.Claims.Skip(claimsBefore).Select(c => c.WorkerId).Distinct().Order(StringComparer.Ordinal));
    }

    private WorkerSession NewSession(string workerId, int concurrency = 4, IReadOnlyList<string>? taskTypes = null) =>
        new(workerId, ["q"], taskTypes ?? [], concurrency, _time.GetUtcNow());

    /// <summary>
    /// Attaches the first session (waking the pump once) and serves the others without a wake-up, so that
    /// once the pump sleeps, no pass is left over.
    /// </summary>
    private List<WorkerSession> AttachQuietly(List<WorkerSession> sessions)
    {
        foreach (var session in sessions)
        {
            _sessions.Register(session);
        }

        foreach (var session in sessions.Skip(1))
        {
            _sessions.Serve(session);
        }

        _dispatcher.Attach(sessions[0]);
        return sessions;
    }
}
