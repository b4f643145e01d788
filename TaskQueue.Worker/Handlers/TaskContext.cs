using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TaskQueue.Worker.Handlers;

/// <summary>Reports progress of a running task; see <see cref="TaskContext.ReportProgressAsync"/>.</summary>
public delegate ValueTask TaskProgressReporter(int percent, string? message, CancellationToken cancellationToken);

/// <summary>One attempt of one task, as a handler sees it.</summary>
public sealed class TaskContext
{
    private readonly TaskProgressReporter? _progressReporter;
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
}
