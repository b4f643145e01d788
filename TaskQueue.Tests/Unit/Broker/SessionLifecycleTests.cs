using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>A worker session from hello to hang-up, without a gRPC call: Redis and the host are fakes.</summary>
public sealed class SessionLifecycleTests : IAsyncLifetime, IAsyncDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(5);
    private readonly CountingTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly FakeSessionStore _store = new();
    private readonly FakeClaimStore _claims = new();
    private readonly SessionRegistry _sessions = new();
    private readonly FakeApplicationLifetime _lifetime = new();
    private readonly FakeMeterFactory _meters = new();
    private readonly BrokerOptions _options = new() { IdleRecheckInterval = TimeSpan.FromHours(1) };
    private readonly BrokerTelemetry _telemetry;
    private readonly Dispatcher _dispatcher;
    private readonly SessionLifecycle _lifecycle;

    public SessionLifecycleTests()
    {
        var options = Options.Create(_options);
        _telemetry = new BrokerTelemetry(_meters);
        _dispatcher = new Dispatcher(_claims, _sessions, options, _telemetry, _time, NullLogger<Dispatcher>.Instance);
        var quarantine = new WorkerQuarantine(_sessions, _dispatcher, _time, NullLogger<WorkerQuarantine>.Instance);
        _lifecycle = new SessionLifecycle(
            _store, _sessions, _dispatcher, quarantine, new WorkerDrains(_sessions, NullLogger<WorkerDrains>.Instance), new BrokerIdentity(), options, _time, _lifetime, NullLogger<SessionLifecycle>.Instance);
    }

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    // xunit 2 disposes a test class through IAsyncLifetime only (IAsyncDisposable alone is never called).
    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    public async ValueTask DisposeAsync()
    {
        await _dispatcher.DisposeAsync();
        _telemetry.Dispose();
        _meters.Dispose();
        _lifetime.Dispose();
    }

    private static WorkerHello Hello(params string[] queues) => new("worker-1", queues.Length == 0 ? ["q"] : queues, [], Concurrency: 4, Batches: true, Owner: "key:workers");

    private static RunningLease Running(TaskId id, string token = "token") => new(id.ToString(), token);

    /// <summary>Opens a session holding the given leases (Redis renews them all) and reads its welcome.</summary>
    private async Task<WorkerSession> OpenHoldingAsync(params TaskId[] held)
    {
        var session = await _lifecycle.OpenAsync(Hello([.. held.Select(id => id.Queue).DefaultIfEmpty("q").Distinct()]), [.. held.Select(id => Running(id))], CancellationToken.None);
        Assert.NotNull((await NextAsync(session.Outbox)).Welcome);
        return session;
    }

    /// <summary>The next message to the worker (generic only so that the broker's protobuf type need not be named here).</summary>
    private static async Task<T> NextAsync<T>(System.Threading.Channels.ChannelReader<T> outbox)
    {
        using var timeout = new CancellationTokenSource(s_bound);
        return await outbox.ReadAsync(timeout.Token);
    }

    /// <summary>Waits until the queue's pump has made its pass and sleeps (on the fake clock) until woken.</summary>
    private Task PumpAsleepAsync() =>
        Eventually.TrueAsync(() => _time.TimersCreated > 0, s_bound, "the pump sleeps on the fake clock", TimeSpan.FromMilliseconds(5));

    [Fact]
    public async Task Opening_re_attaches_the_leases_Redis_renews_and_welcomes_the_worker_with_the_rest_as_lost()
    {
        var (kept, cancelled, moved) = (TaskId.New("q"), TaskId.New("q"), TaskId.New("q"));
        _store.RenewAnswer = lease =>
            lease.Id == moved ? TransitionResult.StaleLease : lease.Id == cancelled ? TransitionResult.CancelRequested : TransitionResult.Ok;

        var session = await _lifecycle.OpenAsync(
            Hello(), [Running(kept), new RunningLease("not-a-task-id", "token"), Running(cancelled), Running(moved)], CancellationToken.None);

        var welcome = (await NextAsync(session.Outbox)).Welcome;
        Assert.Equal(["not-a-task-id", moved.ToString()], welcome.LostTaskIds);
        Assert.Equal(_options.LeaseDuration, welcome.LeaseDuration.ToTimeSpan());
        Assert.Equal(2, session.Busy);
        Assert.NotNull(session.Find(cancelled, "token"));
    }

    [Fact]
    public async Task A_hello_whose_worker_id_is_bound_to_another_identity_opens_nothing_and_renews_nothing()
    {
        var held = TaskId.New("q");
        _store.Owners["worker-1"] = "key:real-worker";

        await Assert.ThrowsAsync<WorkerIdTakenException>(() => _lifecycle.OpenAsync(Hello(), [Running(held)], CancellationToken.None));

        Assert.Empty(_store.Renewals);
        Assert.Empty(_store.Heartbeats);
        Assert.Equal("key:real-worker", _store.Owners["worker-1"]);
        Assert.False(_sessions.TryGet("worker-1", out _));
    }

    [Fact]
    public async Task Heartbeats_keep_the_worker_id_bound_to_the_identity_that_opened_the_session()
    {
        var session = await OpenHoldingAsync();
        _store.Owners.Clear(); // as if the binding had expired meanwhile

        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);

        Assert.Equal("key:workers", _store.Owners["worker-1"]);
    }

    [Fact]
    public async Task Re_attach_and_heartbeats_renew_with_one_script_call_per_queue()
    {
        var (a, b, c) = (TaskId.New("qa"), TaskId.New("qb"), TaskId.New("qa"));
        var session = await OpenHoldingAsync(a, b, c);

        await _lifecycle.HeartbeatAsync(session, [Running(a), Running(b), Running(c)], CancellationToken.None);

        Assert.Equal(["qa", "qb", "qa", "qb"], _store.Renewals.Select(r => r.Queue));
        Assert.Equal([a, c], _store.Renewals[0].Leases.Select(l => l.Id));
    }

    [Fact]
    public async Task Joining_records_the_worker_connected_before_it_gets_work_so_a_standing_quarantine_holds_from_the_start()
    {
        var session = await OpenHoldingAsync();
        _store.QuarantinedUntil = _time.GetUtcNow().AddMinutes(5);

        await _lifecycle.JoinAsync(session);

        var heartbeat = Assert.Single(_store.Heartbeats);
        Assert.True(heartbeat.Connected);
        Assert.Equal(session.ConnectedAt, heartbeat.ConnectedAt);
        Assert.False(session.CanTakeWork(_time.GetUtcNow()));
        Assert.True(_sessions.TryGet("worker-1", out var found) && found == session);
        Assert.Contains(session, _sessions.Served);
    }

    [Fact]
    public async Task A_heartbeat_lists_the_held_task_ids_and_one_that_reads_the_drain_flag_drains_the_session_and_tells_the_worker()
    {
        var held = TaskId.New("q");
        var session = await OpenHoldingAsync(held);
        await _lifecycle.JoinAsync(session);
        _store.DrainRequested = true; // DrainWorker on another broker whose publish did not arrive

        await _lifecycle.HeartbeatAsync(session, [Running(held)], CancellationToken.None);

        Assert.Equal([held.ToString()], _store.Heartbeats[^1].RunningTaskIds);
        Assert.False(_store.Heartbeats[^1].Draining);
        Assert.True(session.Draining);
        Assert.False(session.CanTakeWork(_time.GetUtcNow()));
        Assert.NotNull((await NextAsync(session.Outbox)).WorkerDrain);
        await _lifecycle.HeartbeatAsync(session, [Running(held)], CancellationToken.None);
        Assert.True(_store.Heartbeats[^1].Draining); // the registry keeps showing it draining
        Assert.False(session.Outbox.TryRead(out _)); // told once
    }

    [Fact]
    public async Task A_session_that_joins_while_the_registry_holds_a_drain_for_its_process_is_drained_and_the_worker_told()
    {
        var session = await _lifecycle.OpenAsync(Hello() with { Instance = "process-a" }, [], CancellationToken.None);
        Assert.NotNull((await NextAsync(session.Outbox)).Welcome);
        _store.DrainRequested = true; // DrainWorker while the worker was between connections

        await _lifecycle.JoinAsync(session);

        Assert.Equal("process-a", Assert.Single(_store.Heartbeats).Instance);
        Assert.True(session.Draining);
        Assert.False(session.CanTakeWork(_time.GetUtcNow()));
        Assert.NotNull((await NextAsync(session.Outbox)).WorkerDrain);
    }

    [Fact]
    public async Task A_hello_that_says_draining_opens_a_session_that_gets_no_work_from_the_start()
    {
        var session = await _lifecycle.OpenAsync(Hello() with { Draining = true }, [], CancellationToken.None);

        await _lifecycle.JoinAsync(session);

        Assert.False(session.CanTakeWork(_time.GetUtcNow()));
        Assert.True(Assert.Single(_store.Heartbeats).Draining);
    }

    [Fact]
    public async Task A_heartbeat_passes_on_cancels_and_frees_the_slots_of_leases_that_moved_on()
    {
        var (kept, cancelled, moved) = (TaskId.New("q"), TaskId.New("q"), TaskId.New("q"));
        var session = await OpenHoldingAsync(kept, cancelled, moved);
        _store.RenewAnswer = lease =>
            lease.Id == moved ? TransitionResult.StaleLease : lease.Id == cancelled ? TransitionResult.CancelRequested : TransitionResult.Ok;

        await _lifecycle.HeartbeatAsync(session, [Running(kept), Running(cancelled), Running(moved)], CancellationToken.None);

        Assert.Equal(cancelled.ToString(), (await NextAsync(session.Outbox)).Cancel.TaskId);
        Assert.Equal(moved.ToString(), (await NextAsync(session.Outbox)).LeaseLost.TaskId);
        Assert.Equal(2, session.Busy);
        Assert.Null(session.Find(moved, "token"));
    }

    [Fact]
    public async Task A_timed_out_lease_is_answered_lease_lost_timeout_and_its_slot_stays_taken_until_the_late_report()
    {
        var (timedOut, fine) = (TaskId.New("q"), TaskId.New("q"));
        var session = await OpenHoldingAsync(timedOut, fine);
        _store.RenewAnswer = lease => lease.Id == timedOut ? TransitionResult.TimedOut : TransitionResult.Ok;

        await _lifecycle.HeartbeatAsync(session, [Running(timedOut), Running(fine)], CancellationToken.None);

        var lost = (await NextAsync(session.Outbox)).LeaseLost;
        Assert.Equal((timedOut.ToString(), "timeout"), (lost.TaskId, lost.Reason));
        Assert.Equal((1, 1), (session.Busy, session.StuckSlots));
        Assert.Equal(1, _store.Heartbeats[^1].StuckSlots);
        Assert.Equal(2, session.Reserve("q", max: 10));
        session.Commit(2, [], _time.GetUtcNow(), out _);

        // The handler returned: its late completion is stale, and frees the slot without another LeaseLost.
        var settling = _lifecycle.SettleAsync(session, new WorkerReports([new TaskCompletion(timedOut, "token", ReadOnlyMemory<byte>.Empty)], [], []));
        Assert.Single(_store.Reports).Result.SetResult(TransitionResult.StaleLease);
        await settling.WaitAsync(s_bound);

        Assert.Equal(0, session.StuckSlots);
        Assert.Equal(3, session.Reserve("q", max: 10));
        Assert.False(session.Outbox.TryRead(out _));
    }

    [Fact]
    public async Task Stuck_tasks_a_heartbeat_lists_count_against_the_credit_until_a_heartbeat_leaves_them_out()
    {
        var session = await OpenHoldingAsync();
        var stuck = TaskId.New("q");

        await _lifecycle.HeartbeatAsync(session, [], [stuck.ToString(), "not a task id"], CancellationToken.None);
        Assert.Equal(1, session.StuckSlots);
        Assert.Equal(1, _store.Heartbeats[^1].StuckSlots);
        await _lifecycle.HeartbeatAsync(session, [], [], CancellationToken.None);

        Assert.Equal(0, session.StuckSlots);
        Assert.Equal(0, _store.Heartbeats[^1].StuckSlots);
    }

    [Fact]
    public async Task A_task_left_out_of_heartbeats_for_one_and_a_half_intervals_loses_its_slot()
    {
        var unlisted = TaskId.New("q");
        var session = await OpenHoldingAsync(unlisted);

        _time.Advance(_options.HeartbeatInterval * 1.4);
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);
        Assert.Equal(1, session.Busy); // perhaps still on its way to the worker

        _time.Advance(_options.HeartbeatInterval * 0.2);
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);
        Assert.Equal(0, session.Busy);
    }

    [Fact]
    public async Task A_heartbeat_during_a_Redis_outage_keeps_the_session_and_its_leases()
    {
        var held = TaskId.New("q");
        var session = await OpenHoldingAsync(held);
        await _lifecycle.JoinAsync(session);
        _store.Outage = new RedisConnectionException(ConnectionFailureType.UnableToConnect, "Redis is away");

        await _lifecycle.HeartbeatAsync(session, [Running(held)], CancellationToken.None);

        Assert.Equal(1, session.Busy);
        Assert.True(_sessions.TryGet("worker-1", out _));
    }

    [Fact]
    public async Task A_slot_is_freed_only_once_Redis_has_settled_the_report_and_the_completion_is_counted()
    {
        var done = TaskId.New("q");
        var session = await OpenHoldingAsync(done);

        var settling = _lifecycle.SettleAsync(session, new WorkerReports([new TaskCompletion(done, "token", ReadOnlyMemory<byte>.Empty)], [], []));

        var report = Assert.Single(_store.Reports);
        Assert.Equal(done, report.Held?.Id);
        Assert.Equal(1, session.Busy);
        report.Result.SetResult(TransitionResult.Ok);
        await settling.WaitAsync(s_bound);
        Assert.Equal(0, session.Busy);
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);
        Assert.Equal(1, _store.Heartbeats[^1].CompletedDelta);
    }

    [Fact]
    public async Task A_stale_report_is_answered_with_lease_lost_and_is_not_counted()
    {
        var stale = TaskId.New("q");
        var session = await OpenHoldingAsync(stale);

        var settling = _lifecycle.SettleAsync(session, new WorkerReports([], [new TaskFailure(stale, "token", "boom", Retryable: true)], []));
        Assert.Single(_store.Reports).Result.SetResult(TransitionResult.StaleLease);
        await settling.WaitAsync(s_bound);

        Assert.Equal(stale.ToString(), (await NextAsync(session.Outbox)).LeaseLost.TaskId);
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);
        Assert.Equal(0, _store.Heartbeats[^1].CompletedDelta);
    }

    [Fact]
    public async Task A_report_Redis_could_not_settle_before_its_lease_ran_out_frees_the_slot_and_tells_the_worker_it_did_not_count()
    {
        var held = TaskId.New("q");
        var session = await OpenHoldingAsync(held);

        var settling = _lifecycle.SettleAsync(session, new WorkerReports([], [], [new LeaseRef(held, "token")]));
        var report = Assert.Single(_store.Reports);
        Assert.Equal(1, session.Busy); // held while the batcher tries again
        report.Result.SetException(new ReportNotSettledException("Redis unreachable until the lease ran out", new RedisTimeoutException("Redis froze", CommandStatus.Sent)));
        await settling.WaitAsync(s_bound);

        Assert.Equal(0, session.Busy);
        var lost = (await NextAsync(session.Outbox)).LeaseLost;
        Assert.Equal((held.ToString(), "not-settled"), (lost.TaskId, lost.Reason));
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);
        Assert.Equal(0, _store.Heartbeats[^1].CompletedDelta);
    }

    [Fact]
    public async Task A_report_is_tried_again_until_the_lease_deadline_the_last_renewal_set_and_a_report_of_a_lease_not_held_once()
    {
        var (renewed, unrenewed) = (TaskId.New("q"), TaskId.New("q"));
        var session = await OpenHoldingAsync(renewed, unrenewed);
        var adopted = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(7));
        var heartbeatAt = _time.GetUtcNow();
        _store.RenewAnswer = lease => lease.Id == renewed ? TransitionResult.Ok : TransitionResult.StaleLease;
        await _lifecycle.HeartbeatAsync(session, [Running(renewed), Running(unrenewed)], CancellationToken.None);
        _time.Advance(TimeSpan.FromSeconds(3));

        _ = _lifecycle.SettleAsync(session, new WorkerReports(
            [new TaskCompletion(renewed, "token", ReadOnlyMemory<byte>.Empty), new TaskCompletion(unrenewed, "token", ReadOnlyMemory<byte>.Empty)],
            [new TaskFailure(TaskId.New("q"), "token", "boom", Retryable: true)], []));
        var reports = _store.Reports;

        Assert.Equal(heartbeatAt + _options.LeaseDuration, reports[0].RetryUntil);
        Assert.True(adopted < heartbeatAt);
        Assert.Null(reports[1].RetryUntil); // its renewal was refused: the session no longer holds it
        Assert.Null(reports[2].RetryUntil); // never held here
    }

    [Fact]
    public async Task A_quarantine_ending_at_a_heartbeat_puts_the_worker_back_to_work_at_once()
    {
        var session = await OpenHoldingAsync();
        _store.QuarantinedUntil = _time.GetUtcNow().AddMinutes(5);
        await _lifecycle.JoinAsync(session);
        var ready = _claims.AddReady("q");
        await PumpAsleepAsync(); // it passed the quarantined worker by and sleeps

        _store.QuarantinedUntil = null;
        await _lifecycle.HeartbeatAsync(session, [], CancellationToken.None);

        // The idle re-check is an hour away on a clock nobody moves: only the release's wake-up dispatches.
        Assert.True(session.CanTakeWork(_time.GetUtcNow()));
        Assert.Equal(ready.Id.ToString(), (await NextAsync(session.Outbox)).Assignment.TaskId);
    }

    [Fact]
    public async Task Closing_ends_the_held_leases_after_the_grace_and_records_the_worker_disconnected()
    {
        var (a, b) = (TaskId.New("qa"), TaskId.New("qb"));
        var session = await OpenHoldingAsync(a, b);
        await _lifecycle.JoinAsync(session);

        await _lifecycle.CloseAsync(session, "connection lost");

        Assert.Equal(["qa", "qb"], _store.Shortened.OrderBy(s => s.Queue, StringComparer.Ordinal).Select(s => s.Queue));
        Assert.All(_store.Shortened, s => Assert.Equal(_options.DisconnectGrace, s.Grace));
        Assert.False(_store.Heartbeats[^1].Connected);
        Assert.False(_sessions.TryGet("worker-1", out _));
        Assert.DoesNotContain(session, _sessions.Served);
        Assert.True(session.Outbox.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_stopping_broker_leaves_the_leases_for_the_worker_to_re_attach_elsewhere()
    {
        var session = await OpenHoldingAsync(TaskId.New("q"));
        await _lifecycle.JoinAsync(session);
        _lifetime.StopApplication();

        await _lifecycle.CloseAsync(session, "broker stopping");

        Assert.Empty(_store.Shortened);
        Assert.False(_store.Heartbeats[^1].Connected);
    }

    [Fact]
    public async Task A_newer_stream_under_the_same_worker_id_keeps_its_place_when_the_older_one_closes()
    {
        var older = await OpenHoldingAsync();
        await _lifecycle.JoinAsync(older);
        var newer = await OpenHoldingAsync();
        await _lifecycle.JoinAsync(newer);

        await _lifecycle.CloseAsync(older, "connection lost");

        Assert.True(_sessions.TryGet("worker-1", out var found) && found == newer);
        Assert.Contains(newer, _sessions.Served);
    }

    [Fact]
    public async Task A_worker_silent_for_longer_than_the_limit_is_hung_up_on()
    {
        var session = await OpenHoldingAsync();
        var silent = 0;
        using var watch = _lifecycle.WatchSilence(session, () => Interlocked.Increment(ref silent));

        _time.Advance(_options.HeartbeatInterval * 2);
        _lifecycle.Seen(session);
        _time.Advance(_options.HeartbeatInterval * 3);
        Assert.Equal(0, Volatile.Read(ref silent));

        _time.Advance(_options.HeartbeatInterval);
        Assert.True(Volatile.Read(ref silent) > 0);
    }
}
