using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

public sealed class WorkerDrainTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Stopping_the_host_sends_draining_lets_in_flight_tasks_finish_and_releases_those_over_the_drain_timeout()
    {
        await using var worker = await WorkerHarness.StartAsync(output, concurrency: 2, drainTimeout: TimeSpan.FromSeconds(2));
        var session = worker.Session;
        await session.AssignAsync("t-quick", "gate", "done");
        var stuckLease = await session.AssignAsync("t-stuck", "gate");
        await worker.Probe.For("t-quick").WaitStartedAsync();
        await worker.Probe.For("t-stuck").WaitStartedAsync();

        var stopping = worker.StopAsync();
        var draining = await session.WaitForAsync(message => message.KindCase == WorkerMessage.KindOneofCase.Draining, "Draining");
        worker.Probe.For("t-quick").Release.TrySetResult();
        var quickOutcome = await session.WaitForOutcomeAsync("t-quick");
        var lateLease = await session.AssignAsync("t-late", "echo");
        var lateOutcome = await session.WaitForOutcomeAsync("t-late");
        var stuckOutcome = await session.WaitForOutcomeAsync("t-stuck");
        await worker.Probe.For("t-stuck").WaitCancelledAsync();
        await session.WorkerClosedStream.Task.WaitAsync(FakeBroker.DefaultWait);
        await stopping.WaitAsync(FakeBroker.DefaultWait);

        Assert.Equal(WorkerMessage.KindOneofCase.Released, lateOutcome.KindCase);
        Assert.Equal(lateLease, lateOutcome.Released.LeaseToken);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, quickOutcome.KindCase);
        Assert.Equal("done", quickOutcome.Completed.Result.ToStringUtf8());
        Assert.Equal(WorkerMessage.KindOneofCase.Released, stuckOutcome.KindCase);
        Assert.Equal(stuckLease, stuckOutcome.Released.LeaseToken);
        Assert.True(session.IndexOf(draining) < session.IndexOf(quickOutcome));
        Assert.True(session.IndexOf(quickOutcome) < session.IndexOf(stuckOutcome));
    }

    [Fact]
    public async Task Stopping_an_idle_worker_sends_draining_and_closes_the_stream()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.StopAsync();
        await worker.Session.WorkerClosedStream.Task.WaitAsync(FakeBroker.DefaultWait);

        var last = worker.Session.Received.Last(message => message.KindCase != WorkerMessage.KindOneofCase.Heartbeat);
        Assert.Equal(WorkerMessage.KindOneofCase.Draining, last.KindCase);
    }

    [Fact]
    public async Task An_operator_drain_finishes_the_running_task_refuses_new_ones_keeps_heartbeating_and_says_draining_after_a_reconnect()
    {
        await using var worker = await WorkerHarness.StartAsync(output, concurrency: 2, drainTimeout: TimeSpan.FromSeconds(30));
        var session = worker.Session;
        await session.AssignAsync("t-running", "gate", "done");
        await worker.Probe.For("t-running").WaitStartedAsync();

        await session.SendAsync(new BrokerMessage { WorkerDrain = new WorkerDrain() });
        var draining = await session.WaitForAsync(message => message.KindCase == WorkerMessage.KindOneofCase.Draining, "Draining");
        var lateLease = await session.AssignAsync("t-late", "echo");
        var lateOutcome = await session.WaitForOutcomeAsync("t-late");
        worker.Probe.For("t-running").Release.TrySetResult();
        var runningOutcome = await session.WaitForOutcomeAsync("t-running");
        var heartbeat = await session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Heartbeat, "a heartbeat after the drain", afterIndex: session.IndexOf(runningOutcome));

        Assert.Equal(WorkerMessage.KindOneofCase.Released, lateOutcome.KindCase);
        Assert.Equal(lateLease, lateOutcome.Released.LeaseToken);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, runningOutcome.KindCase);
        Assert.Equal("done", runningOutcome.Completed.Result.ToStringUtf8());
        Assert.True(session.IndexOf(draining) < session.IndexOf(lateOutcome));
        Assert.False(session.WorkerClosedStream.Task.IsCompleted, "a drained worker keeps its stream open");

        // Its broker goes away: the next session hears at once that the worker drains.
        session.Abort();
        var next = await worker.Broker.NextSessionAsync();
        var saidAgain = await next.WaitForAsync(message => message.KindCase == WorkerMessage.KindOneofCase.Draining, "Draining after the reconnect");

        Assert.True(next.Hello.Draining);
        Assert.Equal(0, next.IndexOf(saidAgain));
    }
}
