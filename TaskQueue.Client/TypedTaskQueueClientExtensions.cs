using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Client;

/// <summary>
/// Typed submit and wait on <see cref="TaskQueueClient"/>: the payload is sent as JSON and the result read from
/// JSON, the counterpart of a worker's <c>ITaskHandler&lt;TPayload, TResult&gt;</c>. Both sides default to the web
/// JSON settings (<see cref="JsonSerializerOptions.Web"/>: camelCase, case-insensitive); a source-generated
/// <see cref="JsonTypeInfo{T}"/> can be given instead. For priority, delay, attempts and the other settings of a
/// task, submit <c>TaskRequest.FromJson(type, payload) with { Priority = 5 }</c>.
/// </summary>
public static class TypedTaskQueueClientExtensions
{
    /// <summary>Submits a task to the default queue whose payload is <paramref name="payload"/> as web JSON; returns its id.</summary>
    /// <typeparam name="TPayload">The payload type the task type's handler takes.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="type">The task type, which selects the worker's handler (for example "resize-image").</param>
    /// <param name="payload">The payload, serialised as JSON with <see cref="JsonSerializerOptions.Web"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<SubmitResult> SubmitAsync<TPayload>(
        this TaskQueueClient client,
        string type,
        TPayload payload,
        CancellationToken cancellationToken = default) =>
        client.SubmitAsync(type, payload, TypeInfo<TPayload>(options: null), TaskRequest.DefaultQueue, cancellationToken);

    /// <summary>Submits a task to <paramref name="queue"/> whose payload is <paramref name="payload"/> as JSON; returns its id.</summary>
    /// <typeparam name="TPayload">The payload type the task type's handler takes.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="type">The task type, which selects the worker's handler (for example "resize-image").</param>
    /// <param name="payload">The payload, serialised as JSON.</param>
    /// <param name="queue">The queue to submit to.</param>
    /// <param name="options">JSON settings; null for <see cref="JsonSerializerOptions.Web"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<SubmitResult> SubmitAsync<TPayload>(
        this TaskQueueClient client,
        string type,
        TPayload payload,
        string queue,
        JsonSerializerOptions? options = null,
        CancellationToken cancellationToken = default) =>
        client.SubmitAsync(type, payload, TypeInfo<TPayload>(options), queue, cancellationToken);

    /// <summary>Submits a task whose payload is <paramref name="payload"/> as JSON, with a source-generated type info.</summary>
    /// <typeparam name="TPayload">The payload type the task type's handler takes.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="type">The task type, which selects the worker's handler (for example "resize-image").</param>
    /// <param name="payload">The payload, serialised as JSON.</param>
    /// <param name="typeInfo">The payload's JSON contract, for example <c>ImageJsonContext.Default.ResizeRequest</c>.</param>
    /// <param name="queue">The queue to submit to.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    public static Task<SubmitResult> SubmitAsync<TPayload>(
        this TaskQueueClient client,
        string type,
        TPayload payload,
        JsonTypeInfo<TPayload> typeInfo,
        string queue = TaskRequest.DefaultQueue,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrWhiteSpace(type);
        ArgumentNullException.ThrowIfNull(typeInfo);
        var request = TaskRequest.Create(type, JsonSerializer.SerializeToUtf8Bytes(payload, typeInfo), queue);
        return client.SubmitAsync(request, cancellationToken);
    }

    /// <summary>
    /// Waits until the task reaches a final state or <paramref name="timeout"/> passes (as
    /// <see cref="TaskQueueClient.WaitAsync(string, TimeSpan, CancellationToken)"/>) and returns its state, its
    /// result read from web JSON (<see cref="JsonSerializerOptions.Web"/>) when it completed, and its error when it
    /// did not.
    /// </summary>
    /// <typeparam name="TResult">The result type of the task type's handler.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="taskId">The task's id, from <c>SubmitAsync</c>.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The task completed, but its result is not JSON for <typeparamref name="TResult"/>.</exception>
    public static Task<TaskResult<TResult>> WaitAsync<TResult>(
        this TaskQueueClient client,
        string taskId,
        TimeSpan timeout,
        CancellationToken cancellationToken = default) =>
        client.WaitAsync(taskId, timeout, TypeInfo<TResult>(options: null), cancellationToken);

    /// <summary>
    /// Waits until the task reaches a final state or <paramref name="timeout"/> passes and returns its state and
    /// result, read from JSON with <paramref name="options"/>.
    /// </summary>
    /// <typeparam name="TResult">The result type of the task type's handler.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="taskId">The task's id, from <c>SubmitAsync</c>.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="options">JSON settings, the same as the worker's handler uses.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The task completed, but its result is not JSON for <typeparamref name="TResult"/>.</exception>
    public static Task<TaskResult<TResult>> WaitAsync<TResult>(
        this TaskQueueClient client,
        string taskId,
        TimeSpan timeout,
        JsonSerializerOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return client.WaitAsync(taskId, timeout, TypeInfo<TResult>(options), cancellationToken);
    }

    /// <summary>
    /// Waits until the task reaches a final state or <paramref name="timeout"/> passes and returns its state and
    /// result, read with a source-generated type info.
    /// </summary>
    /// <typeparam name="TResult">The result type of the task type's handler.</typeparam>
    /// <param name="client">The client.</param>
    /// <param name="taskId">The task's id, from <c>SubmitAsync</c>.</param>
    /// <param name="timeout">How long to wait at most.</param>
    /// <param name="typeInfo">The result's JSON contract, for example <c>ImageJsonContext.Default.ResizeResult</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The task completed, but its result is not JSON for <typeparamref name="TResult"/>.</exception>
    public static async Task<TaskResult<TResult>> WaitAsync<TResult>(
        this TaskQueueClient client,
        string taskId,
        TimeSpan timeout,
        JsonTypeInfo<TResult> typeInfo,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(typeInfo);
        var snapshot = await client.WaitAsync(taskId, timeout, cancellationToken);
        return snapshot.State == TaskState.Completed
            ? new TaskResult<TResult>(snapshot.TaskId, snapshot.State, ReadResult(snapshot, typeInfo), Error: null)
            : new TaskResult<TResult>(snapshot.TaskId, snapshot.State, default, snapshot.LastError);
    }

    private static TResult? ReadResult<TResult>(TaskSnapshot snapshot, JsonTypeInfo<TResult> typeInfo)
    {
        if (snapshot.Result.IsEmpty)
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize(snapshot.Result.Span, typeInfo);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException(
                $"Task {snapshot.TaskId} ({snapshot.Type}) completed, but its result is not valid JSON for {typeof(TResult).Name}.", ex);
        }
    }

    private static JsonTypeInfo<T> TypeInfo<T>(JsonSerializerOptions? options) =>
        (JsonTypeInfo<T>)(options ?? JsonSerializerOptions.Web).GetTypeInfo(typeof(T));
}
