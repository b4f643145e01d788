using System.Diagnostics;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Worker.Diagnostics;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

public sealed class WorkerExecutionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task An_assignment_runs_its_handler_and_completed_carries_the_result()
    {
        using var activities = new ActivityRecorder();
        await using var worker = await WorkerHarness.StartAsync(output);
        var traceId = ActivityTraceId.CreateRandom();
        var parentSpanId = ActivitySpanId.CreateRandom();

        var lease = await worker.Session.AssignAsync("t-echo", "echo", "hello", traceParent: $"00-{traceId}-{parentSpanId}-01", queue: "reports", attempt: 2);
        var outcome = await worker.Session.WaitForOutcomeAsync("t-echo");

        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal(lease, outcome.Completed.LeaseToken);
        Assert.Equal("hello", outcome.Completed.Result.ToStringUtf8());

        var span = await activities.StoppedAsync("t-echo");
        Assert.Equal("process reports", span.DisplayName);
        Assert.Equal(ActivityKind.Consumer, span.Kind);
        Assert.Equal(traceId, span.TraceId);
        Assert.Equal(parentSpanId, span.ParentSpanId);
        Assert.Equal("taskqueue", span.GetTagItem(WorkerTelemetry.MessagingSystem));
        Assert.Equal("process", span.GetTagItem(WorkerTelemetry.MessagingOperationType));
        Assert.Equal("reports", span.GetTagItem(WorkerTelemetry.MessagingDestinationName));
        Assert.Equal("echo", span.GetTagItem(WorkerTelemetry.TaskType));
        Assert.Equal(2, span.GetTagItem(WorkerTelemetry.TaskAttempt));
        Assert.Equal(WorkerHarness.WorkerId, span.GetTagItem(WorkerTelemetry.WorkerId));
        Assert.Equal(TaskOutcomes.Completed, span.GetTagItem(WorkerTelemetry.TaskOutcome));
    }

    [Fact]
    public async Task A_handler_exception_reports_a_retryable_failure()
    {
        using var activities = new ActivityRecorder();
        await using var worker = await WorkerHarness.StartAsync(output);

        var lease = await worker.Session.AssignAsync("t-throw", "throw");
        var outcome = await worker.Session.WaitForOutcomeAsync("t-throw");

        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.Equal(lease, outcome.Failed.LeaseToken);
        Assert.True(outcome.Failed.Retryable);
        Assert.Equal("System.InvalidOperationException: boom", outcome.Failed.Error);
        var span = await activities.StoppedAsync("t-throw");
        Assert.Equal(ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public async Task A_NonRetryableTaskException_reports_a_non_retryable_failure()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-reject", "reject");
        var outcome = await worker.Session.WaitForOutcomeAsync("t-reject");

        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.False(outcome.Failed.Retryable);
        Assert.Contains("payload can never work", outcome.Failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_task_type_fails_without_retry()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-unknown", "no-such-type");
        var outcome = await worker.Session.WaitForOutcomeAsync("t-unknown");

        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.False(outcome.Failed.Retryable);
        Assert.Equal("no handler registered for type no-such-type", outcome.Failed.Error);
    }

    [Fact]
    public async Task An_execution_timeout_cancels_the_handler_token_and_reports_a_retryable_failure()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-slow", "gate", executionTimeout: TimeSpan.FromMilliseconds(200));
        await worker.Probe.For("t-slow").WaitCancelledAsync();
        var outcome = await worker.Session.WaitForOutcomeAsync("t-slow");

        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.True(outcome.Failed.Retryable);
        Assert.Equal("execution timed out after 0.2 s", outcome.Failed.Error);
    }

    [Fact]
    public async Task A_cancel_from_the_broker_cancels_the_handler_token_and_reports_a_non_retryable_failure()
    {
        await using var worker = await WorkerHarness.StartAsync(output);
        var lease = await worker.Session.AssignAsync("t-cancel", "gate");
        await worker.Probe.For("t-cancel").WaitStartedAsync();

        await worker.Session.CancelAsync("t-cancel");
        await worker.Probe.For("t-cancel").WaitCancelledAsync();
        var outcome = await worker.Session.WaitForOutcomeAsync("t-cancel");

        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.Equal(lease, outcome.Failed.LeaseToken);
        Assert.False(outcome.Failed.Retryable);
        Assert.Equal("cancelled", outcome.Failed.Error);
    }

    [Fact]
    public async Task A_lost_lease_cancels_the_handler_and_reports_no_outcome()
    {
        using var activities = new ActivityRecorder();
        await using var worker = await WorkerHarness.StartAsync(output);
        await worker.Session.AssignAsync("t-lost", "gate");
        await worker.Probe.For("t-lost").WaitStartedAsync();

        await worker.Session.LoseLeaseAsync("t-lost");
        await worker.Probe.For("t-lost").WaitCancelledAsync();
        var span = await activities.StoppedAsync("t-lost");
        // Outcomes go out in order: once a later task's outcome has arrived, a report of t-lost would have too.
        await worker.Session.AssignAsync("t-after", "echo");
        var after = await worker.Session.WaitForOutcomeAsync("t-after");
        var heartbeat = await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Heartbeat, "heartbeat", afterIndex: worker.Session.IndexOf(after));

        Assert.Equal(TaskOutcomes.Lost, span.GetTagItem(WorkerTelemetry.TaskOutcome));
        Assert.DoesNotContain(worker.Session.Received, message => FakeWorkerSession.OutcomeTaskId(message) == "t-lost");
        Assert.DoesNotContain(heartbeat.Heartbeat.Running, task => task.TaskId == "t-lost");
    }

    [Fact]
    public async Task No_more_tasks_run_at_once_than_the_concurrency_and_an_extra_assignment_is_released()
    {
        await using var worker = await WorkerHarness.StartAsync(output, concurrency: 2);

        await worker.Session.AssignAsync("t-1", "gate");
        await worker.Session.AssignAsync("t-2", "gate");
        var extraLease = await worker.Session.AssignAsync("t-3", "gate");
        var released = await worker.Session.WaitForOutcomeAsync("t-3");
        await worker.Probe.For("t-1").WaitStartedAsync();
        await worker.Probe.For("t-2").WaitStartedAsync();
        worker.Probe.ReleaseAll();
        var first = await worker.Session.WaitForOutcomeAsync("t-1");
        var second = await worker.Session.WaitForOutcomeAsync("t-2");

        Assert.Equal(WorkerMessage.KindOneofCase.Released, released.KindCase);
        Assert.Equal(extraLease, released.Released.LeaseToken);
        Assert.False(worker.Probe.For("t-3").Started.Task.IsCompleted);
        Assert.Equal(2, worker.Probe.MaxRunning);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, first.KindCase);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, second.KindCase);
    }

    [Fact]
    public async Task A_freed_slot_takes_the_next_assignment()
    {
        await using var worker = await WorkerHarness.StartAsync(output, concurrency: 1);

        await worker.Session.AssignAsync("t-a", "echo", "a");
        await worker.Session.WaitForOutcomeAsync("t-a");
        await worker.Session.AssignAsync("t-b", "echo", "b");
        var outcome = await worker.Session.WaitForOutcomeAsync("t-b");

        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal("b", outcome.Completed.Result.ToStringUtf8());
    }

    [Fact]
    public async Task Progress_reports_reach_the_broker()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        var lease = await worker.Session.AssignAsync("t-progress", "progress");
        var progress = await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Progress && message.Progress.TaskId == "t-progress", "progress");
        worker.Probe.For("t-progress").Release.TrySetResult();
        var outcome = await worker.Session.WaitForOutcomeAsync("t-progress");

        Assert.Equal(lease, progress.Progress.LeaseToken);
        Assert.Equal(50, progress.Progress.Percent);
        Assert.Equal("halfway", progress.Progress.Message);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
    }

    [Fact]
    public async Task A_checkpoint_carries_the_lease_and_a_sequence_and_the_handler_goes_on_once_the_broker_stored_it()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        var lease = await worker.Session.AssignAsync("t-ckpt", "checkpoint", checkpoint: "item 50");
        var sent = (await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Checkpoint && message.Checkpoint.TaskId == "t-ckpt", "checkpoint")).Checkpoint;
        await worker.Session.SendAsync(new BrokerMessage { CheckpointSaved = new CheckpointSaved { TaskId = "t-ckpt", Sequence = sent.Sequence, Accepted = true } });
        var outcome = await worker.Session.WaitForOutcomeAsync("t-ckpt");

        Assert.Equal((lease, "next after item 50", 30, "stored"), (sent.LeaseToken, sent.State.ToStringUtf8(), sent.Percent, sent.Message));
        Assert.True(sent.Sequence > 0);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal("resumed from item 50", outcome.Completed.Result.ToStringUtf8());
    }

    [Fact]
    public async Task A_refused_checkpoint_throws_in_the_handler_with_the_brokers_reason()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-refused", "checkpoint");
        var sent = (await worker.Session.WaitForAsync(
            message => message.KindCase == WorkerMessage.KindOneofCase.Checkpoint && message.Checkpoint.TaskId == "t-refused", "checkpoint")).Checkpoint;
        await worker.Session.SendAsync(new BrokerMessage
        {
            CheckpointSaved = new CheckpointSaved { TaskId = "t-refused", Sequence = sent.Sequence, Accepted = false, Reason = "the checkpoint is 19 bytes, over the broker's limit" },
        });
        var outcome = await worker.Session.WaitForOutcomeAsync("t-refused");

        Assert.Equal("next after nothing", sent.State.ToStringUtf8());
        Assert.Equal(WorkerMessage.KindOneofCase.Failed, outcome.KindCase);
        Assert.Contains("over the broker's limit", outcome.Failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_lost_lease_refuses_at_once_the_checkpoint_a_handler_awaits()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-lost", "checkpoint");
        await worker.Session.WaitForAsync(message => message.KindCase == WorkerMessage.KindOneofCase.Checkpoint && message.Checkpoint.TaskId == "t-lost", "checkpoint");
        await worker.Session.LoseLeaseAsync("t-lost");

        // Refused as soon as the lease is lost (well within the 30 s a checkpoint may wait for its answer).
        var refusal = await worker.Probe.For("t-lost").CheckpointRefused.Task.WaitAsync(FakeBroker.DefaultWait);
        Assert.Contains("the lease was lost", refusal, StringComparison.Ordinal);
    }
}
