using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Worker.Handlers;

/// <summary>Reports progress of a running task; see <see cref="TaskContext.ReportProgressAsync"/>.</summary>
public delegate ValueTask TaskProgressReporter(int percent, string? message, CancellationToken cancellationToken);

/// <summary>
/// Stores a checkpoint of a running task and completes once the broker stored it; see <see cref="TaskContext.CheckpointAsync"/>.
/// </summary>
public delegate Task TaskCheckpointer(ReadOnlyMemory<byte> state, int percent, string? message, CancellationToken cancellationToken);

/// <summary>One attempt of one task, as a handler sees it.</summary>
public sealed class TaskContext
{
    private readonly TaskProgressReporter? _progressReporter;
    private readonly TaskCheckpointer? _checkpointer;
    private string? _payloadText;

    /// <summary>Creates a context; the worker runtime does this, and tests of handlers can too.</summary>
    /// <param name="taskId">The task's id.</param>
    /// <param name="queue">The queue the task was submitted to.</param>
    /// <param name="type">The task type, which selected the handler.</param>
    /// <param name="payload">The payload as submitted.</param>
    /// <param name="attempt">This attempt's number, 1 for the first.</param>
    /// <param name="maxAttempts">Attempts the broker allows in total.</param>
    /// <param name="progressReporter">Where <see cref="ReportProgressAsync"/> sends reports; null drops them.</param>
    public TaskContext(
        string taskId,
        string queue,
        string type,
        ReadOnlyMemory<byte> payload,
        int attempt,
        int maxAttempts,
        TaskProgressReporter? progressReporter = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(taskId);
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(type);
        TaskId = taskId;
        Queue = queue;
        Type = type;
        Payload = payload;
        Attempt = attempt;
        MaxAttempts = maxAttempts;
        _progressReporter = progressReporter;
    }

    /// <summary>Creates a context that resumes from a checkpoint; the worker runtime does this, and tests of handlers can too.</summary>
    /// <param name="taskId">The task's id.</param>
    /// <param name="queue">The queue the task was submitted to.</param>
    /// <param name="type">The task type, which selected the handler.</param>
    /// <param name="payload">The payload as submitted.</param>
    /// <param name="attempt">This attempt's number, 1 for the first.</param>
    /// <param name="maxAttempts">Attempts the broker allows in total.</param>
    /// <param name="progressReporter">Where <see cref="ReportProgressAsync"/> sends reports; null drops them.</param>
    /// <param name="checkpoint">The last checkpoint an earlier attempt stored (<see cref="Checkpoint"/>); empty when none.</param>
    /// <param name="checkpointer">Where <see cref="CheckpointAsync"/> sends checkpoints; null drops them.</param>
    public TaskContext(
        string taskId,
        string queue,
        string type,
        ReadOnlyMemory<byte> payload,
        int attempt,
        int maxAttempts,
        TaskProgressReporter? progressReporter,
        ReadOnlyMemory<byte> checkpoint,
        TaskCheckpointer? checkpointer = null)
        : this(taskId, queue, type, payload, attempt, maxAttempts, progressReporter)
    {
        Checkpoint = checkpoint;
        _checkpointer = checkpointer;
    }

    /// <summary>The task's id, as the broker assigned it at submission.</summary>
    public string TaskId { get; }

    /// <summary>The queue the task was submitted to.</summary>
    public string Queue { get; }

    /// <summary>The task type, which selected the handler (for example "echo").</summary>
    public string Type { get; }

    /// <summary>The payload bytes as submitted.</summary>
    public ReadOnlyMemory<byte> Payload { get; }

    /// <summary>The payload decoded as UTF-8.</summary>
    public string PayloadText => _payloadText ??= Encoding.UTF8.GetString(Payload.Span);

    /// <summary>
    /// The last checkpoint an earlier attempt of this task stored (<see cref="CheckpointAsync"/>): resume from it.
    /// Empty when there is none (a first attempt, or no attempt checkpointed). After a crash, a retry or a hand-back
    /// the work after the checkpoint runs again: make what it does safe to repeat.
    /// </summary>
    public ReadOnlyMemory<byte> Checkpoint { get; }

    /// <summary>True when an earlier attempt stored a <see cref="Checkpoint"/>.</summary>
    public bool HasCheckpoint => !Checkpoint.IsEmpty;

    /// <summary>1 for the first attempt.</summary>
    public int Attempt { get; }

    /// <summary>Attempts the broker allows in total.</summary>
    public int MaxAttempts { get; }

    /// <summary>True when a failure of this attempt dead-letters the task.</summary>
    public bool IsLastAttempt => MaxAttempts > 0 && Attempt >= MaxAttempts;

    /// <summary>
    /// Deserializes the payload as JSON (web defaults: camelCase, case-insensitive). Returns default for an
    /// empty payload. Malformed JSON throws <see cref="NonRetryableTaskException"/>: retrying cannot fix it.
    /// Its message names the type and the position, not the payload.
    /// </summary>
    /// <typeparam name="T">The type to deserialize into.</typeparam>
    /// <param name="options">JSON settings; null for <see cref="JsonSerializerOptions.Web"/>.</param>
    public T? PayloadAs<T>(JsonSerializerOptions? options = null) =>
        PayloadAs(TaskJson.TypeInfo<T>(options ?? JsonSerializerOptions.Web));

    /// <summary>
    /// Deserializes the payload as JSON with a source-generated (or otherwise prepared) type info. Returns
    /// default for an empty payload; malformed JSON throws <see cref="NonRetryableTaskException"/>.
    /// </summary>
    /// <typeparam name="T">The type to deserialize into.</typeparam>
    /// <param name="typeInfo">The type's JSON contract, for example <c>MyJsonContext.Default.MyPayload</c>.</param>
    public T? PayloadAs<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        return TaskJson.Deserialize(Payload, typeInfo);
    }

    /// <summary>
    /// Reports progress (0–100) to the broker. Cheap and non-blocking: only the latest report of a task is
    /// kept while earlier ones are still waiting to be sent.
    /// </summary>
    /// <param name="percent">Done so far, clamped to 0..100.</param>
    /// <param name="message">A short status line; never secrets or payload data (clients read it).</param>
    /// <param name="cancellationToken">Cancels the report.</param>
    public ValueTask ReportProgressAsync(int percent, string? message = null, CancellationToken cancellationToken = default) =>
        _progressReporter?.Invoke(Math.Clamp(percent, 0, 100), message, cancellationToken) ?? ValueTask.CompletedTask;

    /// <summary>
    /// Stores <paramref name="state"/> with the task, fenced by this attempt's lease: the next attempt (after a crash,
    /// a retry or a hand-back) receives it as <see cref="Checkpoint"/>. Completes once the broker stored it; with
    /// <paramref name="percent"/> 0..100 the progress is stored with it. Keep it small (the broker's limit is
    /// TaskQueue:Store:MaxCheckpointBytes, 64 KiB by default): a cursor or an offset, not the work.
    /// </summary>
    /// <param name="state">The state to resume from; the last stored one wins.</param>
    /// <param name="percent">Done so far (0..100), stored with it; -1 leaves the progress as it is.</param>
    /// <param name="message">A short status line stored with the percent; never secrets or payload data.</param>
    /// <param name="cancellationToken">Stops waiting for the broker's answer (the checkpoint may still be stored).</param>
    /// <exception cref="CheckpointRejectedException">
    /// Not stored: the lease moved on (this attempt is being stopped and its outcome will not count), the checkpoint is
    /// over the broker's limit, or no broker answered in time. Do not swallow it.
    /// </exception>
    public Task CheckpointAsync(ReadOnlyMemory<byte> state, int percent = -1, string? message = null, CancellationToken cancellationToken = default) =>
        _checkpointer?.Invoke(state, percent < 0 ? -1 : Math.Min(percent, 100), message, cancellationToken) ?? Task.CompletedTask;

    /// <summary>
    /// Stores <paramref name="state"/> as JSON (web defaults: camelCase) as the task's checkpoint; see
    /// <see cref="CheckpointAsync"/>. Read it back with <see cref="CheckpointAs{T}(JsonSerializerOptions?)"/>.
    /// </summary>
    /// <typeparam name="T">The state's type.</typeparam>
    /// <param name="state">The state to resume from.</param>
    /// <param name="percent">Done so far (0..100), stored with it; -1 leaves the progress as it is.</param>
    /// <param name="message">A short status line stored with the percent.</param>
    /// <param name="options">JSON settings; null for <see cref="JsonSerializerOptions.Web"/>.</param>
    /// <param name="cancellationToken">Stops waiting for the broker's answer.</param>
    /// <exception cref="CheckpointRejectedException">Not stored (see <see cref="CheckpointAsync"/>).</exception>
    public Task CheckpointJsonAsync<T>(
        T state, int percent = -1, string? message = null, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default) =>
        CheckpointAsync(JsonSerializer.SerializeToUtf8Bytes(state, options ?? JsonSerializerOptions.Web), percent, message, cancellationToken);

    /// <summary>
    /// The <see cref="Checkpoint"/> deserialized from JSON (web defaults); default when there is none. A checkpoint that
    /// is not valid JSON for <typeparamref name="T"/> throws <see cref="NonRetryableTaskException"/>.
    /// </summary>
    /// <typeparam name="T">The state's type.</typeparam>
    /// <param name="options">JSON settings; null for <see cref="JsonSerializerOptions.Web"/>.</param>
    public T? CheckpointAs<T>(JsonSerializerOptions? options = null) =>
        CheckpointAs(TaskJson.TypeInfo<T>(options ?? JsonSerializerOptions.Web));

    /// <summary>The <see cref="Checkpoint"/> deserialized with a source-generated type info; default when there is none.</summary>
    /// <typeparam name="T">The state's type.</typeparam>
    /// <param name="typeInfo">The type's JSON contract.</param>
    public T? CheckpointAs<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (Checkpoint.IsEmpty)
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize(Checkpoint.Span, typeInfo);
        }
        catch (JsonException)
        {
            // Not chained: the exception's message may quote the checkpoint.
            throw new NonRetryableTaskException($"The checkpoint of the '{Type}' task is not valid JSON for {typeof(T).Name}.");
        }
    }
}
