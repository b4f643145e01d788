namespace TaskQueue.Worker.Handlers;

/// <summary>
/// Runs the tasks of one type with a typed payload and result: the worker deserialises the payload from JSON
/// into <typeparamref name="TPayload"/> and serialises the returned <typeparamref name="TResult"/> as the task's
/// JSON result. Register with <c>services.AddTaskHandler&lt;THandler, TPayload, TResult&gt;()</c> (web JSON
/// defaults: camelCase, case-insensitive), or pass a <see cref="System.Text.Json.Serialization.JsonSerializerContext"/>
/// for source-generated serialisation. Like <see cref="ITaskHandler"/>, the handler names its task type itself
/// and is resolved from a new DI scope for every attempt.
/// </summary>
/// <remarks>
/// A payload that is empty, JSON <c>null</c> or not valid JSON for <typeparamref name="TPayload"/> fails the attempt
/// for good (<see cref="NonRetryableTaskException"/>) before the handler runs: retrying cannot fix it. Submit
/// such tasks with the client's <c>SubmitAsync&lt;TPayload&gt;</c> and read their results with
/// <c>WaitAsync&lt;TResult&gt;</c>, using the same JSON settings on both sides.
/// </remarks>
/// <typeparam name="TPayload">What the task's JSON payload deserialises into.</typeparam>
/// <typeparam name="TResult">What the handler returns; serialised as the task's JSON result.</typeparam>
public interface ITaskHandler<in TPayload, TResult>
{
    /// <summary>The task type this handler runs (for example "resize-image"); unique within a worker.</summary>
    string TaskType { get; }

    /// <summary>
    /// Runs one attempt and returns its result. Throw <see cref="NonRetryableTaskException"/> for a failure
    /// that retrying cannot fix; any other exception fails the attempt and the broker retries it.
    /// The token is cancelled when the broker cancels the task, the lease is lost, the execution timeout
    /// passes or the worker is shutting down.
    /// </summary>
    /// <param name="payload">The task's payload, deserialised.</param>
    /// <param name="context">The attempt: task id, queue, attempt number, progress reports.</param>
    /// <param name="cancellationToken">Cancelled when the attempt must stop.</param>
    Task<TResult> HandleAsync(TPayload payload, TaskContext context, CancellationToken cancellationToken);
}
