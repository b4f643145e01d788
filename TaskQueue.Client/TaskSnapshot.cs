using System.Text;

namespace TaskQueue.Client;

/// <summary>A task as the broker last saw it.</summary>
public sealed record TaskSnapshot
{
    public required string TaskId { get; init; }

    public required string Queue { get; init; }

    public required string Type { get; init; }

    public TaskState State { get; init; }

    /// <summary>Attempts started so far.</summary>
    public int Attempt { get; init; }

    public int MaxAttempts { get; init; }

    public int Priority { get; init; }

    public ReadOnlyMemory<byte> Payload { get; init; }

    /// <summary>The handler's result, once completed.</summary>
    public ReadOnlyMemory<byte> Result { get; init; }

    public string? LastError { get; init; }

    /// <summary>The worker that holds or last held the task.</summary>
    public string? WorkerId { get; init; }

    public bool CancelRequested { get; init; }

    public DateTimeOffset? CreatedAt { get; init; }

    public DateTimeOffset? StartedAt { get; init; }

    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>When a scheduled (delayed or retrying) task becomes ready.</summary>
    public DateTimeOffset? DueAt { get; init; }

    public bool IsFinal => State.IsFinal();

    public string PayloadText => Encoding.UTF8.GetString(Payload.Span);

    public string ResultText => Encoding.UTF8.GetString(Result.Span);
}
