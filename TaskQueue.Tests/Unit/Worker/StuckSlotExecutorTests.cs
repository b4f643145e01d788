extern alias worker;

using System.Diagnostics.Metrics;
using Google.Protobuf;
using TaskQueue.Tests.Infrastructure;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;

namespace TaskQueue.Tests.Unit.Worker;

/// <summary>The worker's side of hard timeouts and result limits: stuck slots, the late outcome, and results over the broker's limit.</summary>
public sealed class StuckSlotExecutorTests : IDisposable
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(10);
    private readonly WorkerParts _parts = new();

    public void Dispose() => _parts.Dispose();

    private static TaskAssignment Assignment(string id, string type, string payload) =>
        new() { TaskId = id, LeaseToken = $"lease-{id}", Queue = "default", Type = type, Attempt = 1, MaxAttempts = 3, Payload = ByteString.CopyFromUtf8(payload) };

    private List<OutboundItem> Drain()
    {
        var items = new List<OutboundItem>();
        while (_parts.Outbound.Reader.TryRead(out var item))
        {
            items.Add(item);
        }

        return items;
    }

    [Fact]
    public async Task A_handler_that_lost_its_lease_to_a_timeout_keeps_its_slot_stuck_until_it_returns_then_sends_its_late_outcome()
    {
        var executor = _parts.Executor;
        var scope = _parts.Get<IMeterFactory>();
        long stuckGauge = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == scope && instrument.Name == "taskqueue.worker.slots.stuck")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref stuckGauge, value));
        listener.Start();
        executor.OnAssignment(Assignment("spinning", "spin", "1000")); // spins on the fake clock, deaf to cancellation

        executor.OnLeaseLost("spinning", token: "", "timeout");
        executor.OnAssignment(Assignment("a", "sleep", "60000"));
        executor.OnAssignment(Assignment("b", "sleep", "60000"));
        executor.OnAssignment(Assignment("c", "sleep", "60000"));

        Assert.Equal(["spinning"], executor.SnapshotStuck());
        Assert.Equal(1, Interlocked.Read(ref stuckGauge));
        Assert.Equal(["a", "b"], executor.SnapshotLeases().Select(t => t.TaskId).Order(StringComparer.Ordinal));
        var refused = Assert.Single(Drain().OfType<OutcomeItem>());
        Assert.Equal("c", refused.Message.Released.TaskId);

        // The handler may start its clock only now: advance until it has spun its second.
        await Eventually.AdvancingUntilAsync(_parts.Time, TimeSpan.FromMilliseconds(250), () => executor.SnapshotStuck().Count == 0, s_bound, "the spinning handler returned");
        var late = await Eventually.UntilAsync(
            () => Task.FromResult(Drain().OfType<OutcomeItem>().ToList()), items => items.Count > 0, s_bound, "the late outcome was queued");

        Assert.Equal(0, Interlocked.Read(ref stuckGauge));
        var outcome = Assert.Single(late);
        Assert.Null(outcome.Execution); // held by no lease, never re-sent
        Assert.Equal(("spinning", "lease-spinning"), (outcome.Message.Completed.TaskId, outcome.Message.Completed.LeaseToken));
    }

    [Fact]
    public async Task A_handler_that_lost_its_lease_otherwise_is_stuck_too_but_reports_nothing_when_it_returns()
    {
        var executor = _parts.Executor;
        executor.OnAssignment(Assignment("spinning", "spin", "1000"));

        executor.OnLeaseLost("spinning", token: "", "the lease expired or moved on");
        Assert.Equal(["spinning"], executor.SnapshotStuck());

        await Eventually.AdvancingUntilAsync(_parts.Time, TimeSpan.FromMilliseconds(250), () => executor.SnapshotStuck().Count == 0, s_bound, "the spinning handler returned");
        Assert.Empty(Drain().OfType<OutcomeItem>());
    }

    [Fact]
    public void News_that_an_older_lease_was_lost_leaves_the_run_under_the_newer_lease_alone()
    {
        var executor = _parts.Executor;
        // Reclaimed after a Redis freeze and handed here again: the broker's answer to a heartbeat sent before that
        // names the old lease.
        executor.OnAssignment(Assignment("again", "sleep", "60000"));

        executor.OnLeaseLost("again", "lease-of-attempt-1", "the lease expired or moved on");
        Assert.Equal([("again", "lease-again")], executor.SnapshotLeases().Select(t => (t.TaskId, t.LeaseToken)));
        Assert.Empty(executor.SnapshotStuck());

        executor.OnLeaseLost("again", "lease-again", "the lease expired or moved on");
        Assert.Empty(executor.SnapshotLeases());
    }

    [Fact]
    public async Task A_result_over_the_brokers_limit_is_reported_as_a_failure_that_is_not_retried()
    {
        var executor = _parts.Executor;
        executor.SetResultLimit(1000);

        executor.OnAssignment(Assignment("big", "bytes", "1001"));
        executor.OnAssignment(Assignment("fits", "bytes", "1000"));
        var outcomes = await Eventually.UntilAsync(
            () => Task.FromResult(Drain().OfType<OutcomeItem>().ToList()), items => items.Count > 0, s_bound, "the outcomes were queued");
        if (outcomes.Count < 2)
        {
            outcomes.AddRange(await Eventually.UntilAsync(
                () => Task.FromResult(Drain().OfType<OutcomeItem>().ToList()), items => items.Count > 0, s_bound, "the second outcome was queued"));
        }

        var failed = outcomes.Single(o => o.Message.KindCase == WorkerMessage.KindOneofCase.Failed).Message.Failed;
        Assert.Equal(("big", false), (failed.TaskId, failed.Retryable));
        Assert.Equal("the result is 1001 bytes, over the limit of 1000 bytes (TaskQueue:Store:MaxResultBytes): not stored", failed.Error);
        var completed = outcomes.Single(o => o.Message.KindCase == WorkerMessage.KindOneofCase.Completed).Message.Completed;
        Assert.Equal(("fits", 1000), (completed.TaskId, completed.Result.Length));
    }
}
