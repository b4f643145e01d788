using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Protocol.V1;
using ProtoTaskState = TaskQueue.Protocol.V1.TaskState;

namespace TaskQueue.Client.Internal;

/// <summary>Domain records ↔ protobuf messages; protobuf types stop here.</summary>
internal static class ProtocolMapper
{
    public static TaskSpec ToSpec(TaskRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Type))
        {
            throw new ArgumentException("A task needs a type.", nameof(request));
        }

        if (string.IsNullOrWhiteSpace(request.Queue))
        {
            throw new ArgumentException("A task needs a queue name.", nameof(request));
        }

        if (request.Priority is < TaskRequest.MinPriority or > TaskRequest.MaxPriority)
        {
            throw new ArgumentException($"Priority must be {TaskRequest.MinPriority}..{TaskRequest.MaxPriority}; it is {request.Priority}.", nameof(request));
        }

        if (request.MaxAttempts < 0)
        {
            throw new ArgumentException("MaxAttempts must not be negative (0 means the broker's default).", nameof(request));
        }

        var spec = new TaskSpec
        {
            Queue = request.Queue,
            Type = request.Type,
            Payload = ByteString.CopyFrom(request.Payload.Span),
            Priority = request.Priority,
            MaxAttempts = request.MaxAttempts,
            Delay = ToDuration(request.Delay, nameof(TaskRequest.Delay)),
            NotBefore = request.NotBefore is { } notBefore ? Timestamp.FromDateTimeOffset(notBefore) : null,
            ExecutionTimeout = ToDuration(request.ExecutionTimeout, nameof(TaskRequest.ExecutionTimeout)),
            ExpiresAfter = ToDuration(request.ExpiresAfter, nameof(TaskRequest.ExpiresAfter)),
            IdempotencyKey = request.IdempotencyKey ?? string.Empty,
            UniqueKey = request.UniqueKey ?? string.Empty,
            DebounceKey = request.DebounceKey ?? string.Empty,
            DebounceWindow = ToDuration(request.DebounceWindow, nameof(TaskRequest.DebounceWindow)),
            Group = request.Group ?? string.Empty,
        };
        return spec;
    }

    public static SubmitResult ToResult(SubmitResponse response) => new(response.TaskId, response.Duplicate)
    {
        Outcome = response.Outcome switch
        {
            Protocol.V1.SubmitOutcome.Created => SubmitOutcome.Created,
            Protocol.V1.SubmitOutcome.IdempotentDuplicate => SubmitOutcome.IdempotentDuplicate,
            Protocol.V1.SubmitOutcome.UniqueExisting => SubmitOutcome.UniqueExisting,
            Protocol.V1.SubmitOutcome.Debounced => SubmitOutcome.Debounced,
            // An older broker: only idempotency keys answered with an earlier task.
            _ => response.Duplicate ? SubmitOutcome.IdempotentDuplicate : SubmitOutcome.Created,
        },
    };

    public static ListOrder ToProto(TaskListOrder order) =>
        order == TaskListOrder.OldestFirst ? ListOrder.OldestFirst : ListOrder.NewestFirst;

    public static ProtoTaskState ToProto(TaskState state) => state switch
    {
        TaskState.Ready => ProtoTaskState.Ready,
        TaskState.Scheduled => ProtoTaskState.Scheduled,
        TaskState.Leased => ProtoTaskState.Leased,
        TaskState.Completed => ProtoTaskState.Completed,
        TaskState.DeadLettered => ProtoTaskState.DeadLettered,
        TaskState.Cancelled => ProtoTaskState.Cancelled,
        TaskState.Expired => ProtoTaskState.Expired,
        _ => ProtoTaskState.Unspecified,
    };

    public static TaskSnapshot ToSnapshot(TaskInfo info) => new()
    {
        TaskId = info.TaskId,
        Queue = info.Queue,
        Type = info.Type,
        State = ToState(info.State),
        Attempt = info.Attempt,
        MaxAttempts = info.MaxAttempts,
        Priority = info.Priority,
        Payload = info.Payload.Memory,
        Result = info.Result.Memory,
        LastError = NullIfEmpty(info.LastError),
        WorkerId = NullIfEmpty(info.WorkerId),
        CancelRequested = info.CancelRequested,
        CreatedAt = info.CreatedAt?.ToDateTimeOffset(),
        StartedAt = info.StartedAt?.ToDateTimeOffset(),
        FinishedAt = info.FinishedAt?.ToDateTimeOffset(),
        DueAt = info.DueAt?.ToDateTimeOffset(),
        ProgressPercent = info.ProgressAt is null ? null : info.ProgressPercent,
        ProgressMessage = info.ProgressAt is null ? null : NullIfEmpty(info.ProgressMessage),
        ProgressAt = info.ProgressAt?.ToDateTimeOffset(),
        Checkpoint = info.Checkpoint.Memory,
        LeaseDeadline = info.LeaseDeadline?.ToDateTimeOffset(),
        UniqueKey = NullIfEmpty(info.UniqueKey),
        DebounceKey = NullIfEmpty(info.DebounceKey),
        Group = NullIfEmpty(info.Group),
        TraceParent = NullIfEmpty(info.TraceParent),
        Attempts = [.. info.Attempts.Select(a => new TaskAttemptRecord(
            a.Attempt, a.Error, NullIfEmpty(a.WorkerId), a.FinishedAt?.ToDateTimeOffset() ?? DateTimeOffset.UnixEpoch, a.Outcome))],
    };

    public static TaskWatchEvent ToEvent(TaskEvent message) => new(
        message.Kind switch
        {
            TaskEventKind.StateChanged => TaskWatchEventKind.StateChanged,
            TaskEventKind.Progress => TaskWatchEventKind.Progress,
            _ => TaskWatchEventKind.Snapshot,
        },
        ToSnapshot(message.Task ?? new TaskInfo()));

    public static QueueStatistics ToStatistics(QueueStats stats) => new()
    {
        Queue = stats.Queue,
        Ready = stats.Ready,
        Scheduled = stats.Scheduled,
        Leased = stats.Leased,
        DeadLettered = stats.DeadLettered,
        Submitted = stats.Submitted,
        Completed = stats.Completed,
        Failed = stats.Failed,
        Retried = stats.Retried,
        Expired = stats.Expired,
        Cancelled = stats.Cancelled,
        Paused = stats.Paused,
        Limits = ToLimits(stats.Limits),
    };

    public static QueueLimitSettings ToLimits(QueueLimits? limits) => limits is null ? new() : new()
    {
        Concurrency = Positive(limits.Concurrency),
        Rate = Positive(limits.Rate),
        Burst = Positive(limits.Burst),
        GroupConcurrency = Positive(limits.GroupConcurrency),
        GroupRate = Positive(limits.GroupRate),
        GroupBurst = Positive(limits.GroupBurst),
    };

    public static QueueLimits ToProto(QueueLimitSettings limits) => new()
    {
        Concurrency = limits.Concurrency ?? 0,
        Rate = limits.Rate ?? 0,
        Burst = limits.Burst ?? 0,
        GroupConcurrency = limits.GroupConcurrency ?? 0,
        GroupRate = limits.GroupRate ?? 0,
        GroupBurst = limits.GroupBurst ?? 0,
    };

    public static GroupLimits ToProto(GroupLimitSettings limits) => new()
    {
        Concurrency = limits.Concurrency ?? 0,
        Rate = limits.Rate ?? 0,
        Burst = limits.Burst ?? 0,
    };

    public static QueueFlowStatus ToFlow(QueueFlow flow) => new()
    {
        Queue = flow.Queue,
        Paused = flow.Paused,
        Limits = ToLimits(flow.Limits),
        GroupOverrides = flow.GroupOverrides.ToDictionary(
            e => e.Key,
            e => new GroupLimitSettings { Concurrency = Positive(e.Value.Concurrency), Rate = Positive(e.Value.Rate), Burst = Positive(e.Value.Burst) },
            StringComparer.Ordinal),
        Leased = flow.Leased,
        Tokens = flow.HasTokens ? flow.Tokens : null,
    };

    private static int? Positive(int value) => value > 0 ? value : null;

    private static double? Positive(double value) => value > 0 ? value : null;

    public static TaskExplanation ToExplanation(ExplainTaskResponse response) => new()
    {
        Reason = System.Enum.IsDefined((TaskExplanationReason)(int)response.Reason) ? (TaskExplanationReason)(int)response.Reason : TaskExplanationReason.Unknown,
        Detail = response.Detail,
        State = ToState(response.State),
        Until = response.Until?.ToDateTimeOffset(),
        Ahead = response.Ahead,
        AheadIsLowerBound = response.AheadIsLowerBound,
        WorkerId = NullIfEmpty(response.WorkerId),
    };

    public static TaskState ToState(ProtoTaskState state) => state switch
    {
        ProtoTaskState.Ready => TaskState.Ready,
        ProtoTaskState.Scheduled => TaskState.Scheduled,
        ProtoTaskState.Leased => TaskState.Leased,
        ProtoTaskState.Completed => TaskState.Completed,
        ProtoTaskState.DeadLettered => TaskState.DeadLettered,
        ProtoTaskState.Cancelled => TaskState.Cancelled,
        ProtoTaskState.Expired => TaskState.Expired,
        _ => TaskState.Unknown,
    };

    public static Duration ToDuration(TimeSpan value) => Duration.FromTimeSpan(value);

    private static Duration? ToDuration(TimeSpan? value, string name)
    {
        if (value is not { } span)
        {
            return null;
        }

        if (span < TimeSpan.Zero)
        {
            throw new ArgumentException($"{name} must not be negative.", name);
        }

        return Duration.FromTimeSpan(span);
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;
}
