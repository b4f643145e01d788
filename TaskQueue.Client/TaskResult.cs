namespace TaskQueue.Client;

/// <summary>
/// A task's state and, once it completed, its result read from JSON: what
/// <see cref="TypedTaskQueueClientExtensions.WaitAsync{TResult}(TaskQueueClient, string, TimeSpan, CancellationToken)"/>
/// returns.
/// </summary>
/// <typeparam name="TResult">The result type of the task's handler.</typeparam>
/// <param name="TaskId">The task's id.</param>
/// <param name="State">The task's state when the wait ended; not final when the wait timed out first.</param>
/// <param name="Result">The handler's result when <paramref name="State"/> is <see cref="TaskState.Completed"/>; otherwise default.</param>
/// <param name="Error">The last attempt's error when the task did not complete (dead-lettered, cancelled, or failed and retrying); otherwise null.</param>
public sealed record TaskResult<TResult>(string TaskId, TaskState State, TResult? Result, string? Error)
{
    /// <summary>True when the task completed and <see cref="Result"/> holds its result.</summary>
    public bool IsCompleted => State == TaskState.Completed;

    /// <summary>True when the task is in a state it never leaves (completed, dead-lettered, cancelled, expired).</summary>
    public bool IsFinal => State.IsFinal();
}
