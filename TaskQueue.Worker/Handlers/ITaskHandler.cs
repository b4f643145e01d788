namespace TaskQueue.Worker.Handlers;

/// <summary>
/// Runs the tasks of one type. Register with <c>services.AddTaskHandler&lt;T&gt;()</c>; the worker resolves a
/// fresh instance from a new DI scope for every attempt.
/// </summary>
public interface ITaskHandler
{
    /// <summary>The task type this handler runs (for example "echo"); unique within a worker.</summary>
    string TaskType { get; }

    /// <summary>
    /// Runs one attempt and returns its result. Throw <see cref="NonRetryableTaskException"/> for a failure
    /// that retrying cannot fix; any other exception fails the attempt and the broker retries it.
    /// The token is cancelled when the broker cancels the task, the lease is lost, the execution timeout
    /// passes or the worker is shutting down.
    /// </summary>
    Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken);
}
