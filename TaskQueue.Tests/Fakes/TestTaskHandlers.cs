using System.Collections.Concurrent;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.Tests.Fakes;

/// <summary>What the test handlers did, per task id, for the tests to await.</summary>
internal sealed class TaskProbe
{
    private readonly ConcurrentDictionary<string, TaskSignals> _tasks = new();
    private int _running;
    private int _maxRunning;

    public int MaxRunning => Volatile.Read(ref _maxRunning);

    public TaskSignals For(string taskId) => _tasks.GetOrAdd(taskId, _ => new TaskSignals());

    public void ReleaseAll()
    {
        foreach (var signals in _tasks.Values)
        {
            signals.Release.TrySetResult();
        }
    }

    public void Entered()
    {
        var running = Interlocked.Increment(ref _running);
        int max;
        while (running > (max = Volatile.Read(ref _maxRunning)) && Interlocked.CompareExchange(ref _maxRunning, running, max) != max)
        {
        }
    }

    public void Left() => Interlocked.Decrement(ref _running);
}

internal sealed class TaskSignals
{
    private static readonly TimeSpan Wait = FakeBroker.DefaultWait;

    public TaskCompletionSource<TaskContext> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The handler saw its token cancelled.</summary>
    public TaskCompletionSource Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The "checkpoint" handler's CheckpointAsync threw: the exception's message.</summary>
    public TaskCompletionSource<string> CheckpointRefused { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set by the test to let a gate task finish.</summary>
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task<TaskContext> WaitStartedAsync() => Started.Task.WaitAsync(Wait);

    public Task WaitCancelledAsync() => Cancelled.Task.WaitAsync(Wait);
}

/// <summary>"gate": runs until the test releases it (returns its payload) or its token is cancelled.</summary>
internal sealed class GateTaskHandler(TaskProbe probe) : ITaskHandler
{
    public string TaskType => "gate";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var signals = probe.For(context.TaskId);
        probe.Entered();
        try
        {
            signals.Started.TrySetResult(context);
            await signals.Release.Task.WaitAsync(cancellationToken);
            return context.Payload;
        }
        finally
        {
            // Checked here rather than in a token callback, which this very exit could unregister before it runs.
            if (cancellationToken.IsCancellationRequested)
            {
                signals.Cancelled.TrySetResult();
            }

            probe.Left();
        }
    }
}

/// <summary>"progress": reports 50 % "halfway", then waits like a gate.</summary>
internal sealed class ProgressTaskHandler(TaskProbe probe) : ITaskHandler
{
    public string TaskType => "progress";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var signals = probe.For(context.TaskId);
        await context.ReportProgressAsync(50, "halfway", cancellationToken);
        signals.Started.TrySetResult(context);
        await signals.Release.Task.WaitAsync(cancellationToken);
        return TaskResults.Empty;
    }
}

/// <summary>"checkpoint": checkpoints "next after {the checkpoint it resumed from}" at 30 % (not catching a refusal), then returns what it resumed from.</summary>
internal sealed class CheckpointTaskHandler(TaskProbe probe) : ITaskHandler
{
    public string TaskType => "checkpoint";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var signals = probe.For(context.TaskId);
        signals.Started.TrySetResult(context);
        var resumedFrom = context.HasCheckpoint ? System.Text.Encoding.UTF8.GetString(context.Checkpoint.Span) : "nothing";
        try
        {
            await context.CheckpointAsync(System.Text.Encoding.UTF8.GetBytes("next after " + resumedFrom), 30, "stored", cancellationToken);
        }
        catch (CheckpointRejectedException ex)
        {
            signals.CheckpointRefused.TrySetResult(ex.Message);
            throw;
        }

        return TaskResults.FromText("resumed from " + resumedFrom);
    }
}

/// <summary>"throw": a plain (retryable) failure.</summary>
internal sealed class ThrowingTaskHandler : ITaskHandler
{
    public string TaskType => "throw";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("boom");
}

/// <summary>"reject": a permanent failure.</summary>
internal sealed class RejectingTaskHandler : ITaskHandler
{
    public string TaskType => "reject";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken) =>
        throw new NonRetryableTaskException("payload can never work");
}
