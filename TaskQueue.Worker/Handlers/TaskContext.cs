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

    public string TaskId { get; }

    public string Queue { get; }

    public string Type { get; }

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
    /// </summary>
    public T? PayloadAs<T>(JsonSerializerOptions? options = null) =>
        PayloadAs((JsonTypeInfo<T>)(options ?? JsonSerializerOptions.Web).GetTypeInfo(typeof(T)));

    /// <inheritdoc cref="PayloadAs{T}(JsonSerializerOptions?)"/>
    public T? PayloadAs<T>(JsonTypeInfo<T> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(typeInfo);
        if (Payload.IsEmpty)
        {
            return default;
        }

        try
        {
            return JsonSerializer.Deserialize(Payload.Span, typeInfo);
        }
        catch (JsonException ex)
        {
            throw new NonRetryableTaskException($"The payload is not valid JSON for {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Reports progress (0–100) to the broker. Cheap and non-blocking: only the latest report of a task is
    /// kept while earlier ones are still waiting to be sent.
    /// </summary>
    public ValueTask ReportProgressAsync(int percent, string? message = null, CancellationToken cancellationToken = default) =>
        _progressReporter?.Invoke(Math.Clamp(percent, 0, 100), message, cancellationToken) ?? ValueTask.CompletedTask;
}
