using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Worker.Diagnostics;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

public sealed class WorkerConnectionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Hello_lists_the_registered_task_types_the_queues_and_the_concurrency()
    {
        await using var worker = await WorkerHarness.StartAsync(output, concurrency: 3);

        var hello = worker.Session.Hello;

        Assert.Equal(WorkerHarness.WorkerId, hello.WorkerId);
        Assert.Equal(["default", "reports"], hello.Queues);
        Assert.Equal(3, hello.Concurrency);
        Assert.Equal(["bytes", "checkpoint", "count", "cpu", "crash", "echo", "fail", "gate", "noop", "progress", "reject", "sleep", "spin", "throw"], hello.TaskTypes);
        Assert.Empty(hello.Running);
    }

    [Fact]
    public async Task Heartbeats_list_the_running_tasks_with_their_lease_tokens()
    {
        await using var worker = await WorkerHarness.StartAsync(output);
        var lease = await worker.Session.AssignAsync("t-running", "gate");
        await worker.Probe.For("t-running").WaitStartedAsync();

        var beating = await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Heartbeat && message.Heartbeat.Running.Any(task => task.TaskId == "t-running"),
            "heartbeat listing t-running");
        worker.Probe.For("t-running").Release.TrySetResult();
        var outcome = await worker.Session.WaitForOutcomeAsync("t-running");
        var after = await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Heartbeat, "heartbeat after the outcome", afterIndex: worker.Session.IndexOf(outcome));

        Assert.Equal(lease, Assert.Single(beating.Heartbeat.Running).LeaseToken);
        Assert.Empty(after.Heartbeat.Running);
    }

    [Fact]
    public async Task A_dropped_stream_reconnects_and_the_new_hello_reattaches_the_running_task_whose_outcome_follows_on_the_new_stream()
    {
        await using var worker = await WorkerHarness.StartAsync(output);
        var lease = await worker.Session.AssignAsync("t-survivor", "gate", "kept");
        await worker.Probe.For("t-survivor").WaitStartedAsync();

        worker.Session.Abort();
        var reconnected = await worker.Broker.NextSessionAsync();
        worker.Probe.For("t-survivor").Release.TrySetResult();
        var outcome = await reconnected.WaitForOutcomeAsync("t-survivor");

        var running = Assert.Single(reconnected.Hello.Running);
        Assert.Equal("t-survivor", running.TaskId);
        Assert.Equal(lease, running.LeaseToken);
        Assert.False(worker.Probe.For("t-survivor").Cancelled.Task.IsCompleted);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal("kept", outcome.Completed.Result.ToStringUtf8());
    }

    [Fact]
    public async Task An_outcome_produced_while_disconnected_is_sent_after_the_next_hello()
    {
        using var activities = new ActivityRecorder();
        await using var worker = await WorkerHarness.StartAsync(output);
        var lease = await worker.Session.AssignAsync("t-offline", "gate");
        await worker.Probe.For("t-offline").WaitStartedAsync();

        worker.Broker.RefuseConnections = true;
        worker.Session.Abort();
        worker.Probe.For("t-offline").Release.TrySetResult();
        var span = await activities.StoppedAsync("t-offline");
        worker.Broker.RefuseConnections = false;
        var reconnected = await worker.Broker.NextSessionAsync();
        var outcome = await reconnected.WaitForOutcomeAsync("t-offline");

        Assert.Equal(TaskOutcomes.Completed, span.GetTagItem(WorkerTelemetry.TaskOutcome));
        Assert.Equal(lease, Assert.Single(reconnected.Hello.Running).LeaseToken);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal(lease, outcome.Completed.LeaseToken);
    }

    [Fact]
    public async Task Tasks_the_broker_could_not_reattach_are_cancelled_and_not_reported()
    {
        using var activities = new ActivityRecorder();
        await using var worker = await WorkerHarness.StartAsync(output);
        await worker.Session.AssignAsync("t-orphan", "gate");
        await worker.Probe.For("t-orphan").WaitStartedAsync();

        worker.Broker.LoseOnNextWelcome("t-orphan");
        worker.Session.Abort();
        var reconnected = await worker.Broker.NextSessionAsync();
        await worker.Probe.For("t-orphan").WaitCancelledAsync();
        var span = await activities.StoppedAsync("t-orphan");
        await reconnected.AssignAsync("t-next", "echo");
        await reconnected.WaitForOutcomeAsync("t-next");

        Assert.Equal("t-orphan", Assert.Single(reconnected.Hello.Running).TaskId);
        Assert.Equal(TaskOutcomes.Lost, span.GetTagItem(WorkerTelemetry.TaskOutcome));
        Assert.DoesNotContain(reconnected.Received, message => FakeWorkerSession.OutcomeTaskId(message) == "t-orphan");
    }

    [Fact]
    public async Task A_drain_from_the_broker_keeps_tasks_running_and_reconnects()
    {
        await using var worker = await WorkerHarness.StartAsync(output);
        var lease = await worker.Session.AssignAsync("t-moving", "gate");
        await worker.Probe.For("t-moving").WaitStartedAsync();

        await worker.Session.DrainAsync();
        await worker.Session.WorkerClosedStream.Task.WaitAsync(FakeBroker.DefaultWait);
        var reconnected = await worker.Broker.NextSessionAsync();
        worker.Probe.For("t-moving").Release.TrySetResult();
        var outcome = await reconnected.WaitForOutcomeAsync("t-moving");

        Assert.Equal(lease, Assert.Single(reconnected.Hello.Running).LeaseToken);
        Assert.False(worker.Probe.For("t-moving").Cancelled.Task.IsCompleted);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
    }
}
