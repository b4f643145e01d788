using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Explain;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using ProtoTaskState = TaskQueue.Protocol.V1.TaskState;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Broker;

/// <summary>Conversions between protobuf messages and the store's records: the only place both meet.</summary>
internal static partial class ProtoMapping
{
    public static NewTask ToNewTask(TaskSpec spec) =>
        new(spec.Queue, spec.Type, spec.Payload.Memory)
        {
            Priority = spec.Priority,
            MaxAttempts = spec.MaxAttempts == 0 ? null : spec.MaxAttempts,
            Delay = ToTimeSpan(spec.Delay, "task.delay") ?? TimeSpan.Zero,
            NotBefore = ToDateTimeOffset(spec.NotBefore, "task.not_before"),
            ExecutionTimeout = ToTimeSpan(spec.ExecutionTimeout, "task.execution_timeout"),
            ExpiresAfter = ToTimeSpan(spec.ExpiresAfter, "task.expires_after"),
            IdempotencyKey = string.IsNullOrEmpty(spec.IdempotencyKey) ? null : spec.IdempotencyKey,
            TraceParent = string.IsNullOrEmpty(spec.TraceParent) ? null : spec.TraceParent,
            TraceState = string.IsNullOrEmpty(spec.TraceState) ? null : spec.TraceState,
            UniqueKey = string.IsNullOrEmpty(spec.UniqueKey) ? null : spec.UniqueKey,
            DebounceKey = string.IsNullOrEmpty(spec.DebounceKey) ? null : spec.DebounceKey,
            DebounceWindow = ToTimeSpan(spec.DebounceWindow, "task.debounce_window"),
            Group = string.IsNullOrEmpty(spec.Group) ? null : spec.Group,
        };

    public static SubmitResponse ToResponse(EnqueueResult result) => new()
    {
        TaskId = result.Id.ToString(),
        Duplicate = result.Duplicate,
        Outcome = result.Outcome switch
        {
            EnqueueOutcome.Created => SubmitOutcome.Created,
            EnqueueOutcome.IdempotentDuplicate => SubmitOutcome.IdempotentDuplicate,
            EnqueueOutcome.UniqueExisting => SubmitOutcome.UniqueExisting,
            EnqueueOutcome.Debounced => SubmitOutcome.Debounced,
            _ => SubmitOutcome.Unspecified,
        },
    };

    /// <summary>A duration, or an ArgumentException (INVALID_ARGUMENT) for one protobuf cannot represent as a TimeSpan.</summary>
    public static TimeSpan? ToTimeSpan(Duration? duration, string field)
    {
        try
        {
            return duration?.ToTimeSpan();
        }
        catch (InvalidOperationException ex)
        {
            throw new ArgumentException($"{field} is not a valid duration ({ex.Message})", field, ex);
        }
    }

    private static DateTimeOffset? ToDateTimeOffset(Timestamp? timestamp, string field)
    {
        try
        {
            return timestamp?.ToDateTimeOffset();
        }
        catch (InvalidOperationException ex)
        {
            throw new ArgumentException($"{field} is not a valid timestamp ({ex.Message})", field, ex);
        }
    }

    public static TaskAssignment ToAssignment(LeasedTask task)
    {
        var assignment = new TaskAssignment
        {
            TaskId = task.Id.ToString(),
            Queue = task.Id.Queue,
            Type = task.Type,
            Payload = UnsafeByteOperations.UnsafeWrap(task.Payload),
            LeaseToken = task.LeaseToken,
            LeaseDeadline = Timestamp.FromDateTimeOffset(task.LeaseDeadline),
            Attempt = task.Attempt,
            MaxAttempts = task.MaxAttempts,
            TraceParent = task.TraceParent ?? "",
            TraceState = task.TraceState ?? "",
            EnqueuedAt = Timestamp.FromDateTimeOffset(task.EnqueuedAt),
            Checkpoint = UnsafeByteOperations.UnsafeWrap(task.Checkpoint),
        };
        if (task.ExecutionTimeout is { } timeout)
        {
            assignment.ExecutionTimeout = Duration.FromTimeSpan(timeout);
        }

        return assignment;
    }

    public static TaskInfo ToInfo(TaskSnapshot task)
    {
        var info = new TaskInfo
        {
            TaskId = task.Id.ToString(),
            Queue = task.Id.Queue,
            Type = task.Type,
            State = ToProto(task.State),
            Attempt = task.Attempt,
            MaxAttempts = task.MaxAttempts,
            Priority = task.Priority,
            Payload = UnsafeByteOperations.UnsafeWrap(task.Payload),
            Result = UnsafeByteOperations.UnsafeWrap(task.Result),
            LastError = task.LastError ?? "",
            WorkerId = task.WorkerId ?? "",
            CancelRequested = task.CancelRequested,
            CreatedAt = Timestamp.FromDateTimeOffset(task.CreatedAt),
            UniqueKey = task.UniqueKey ?? "",
            DebounceKey = task.DebounceKey ?? "",
            Group = task.Group ?? "",
            TraceParent = task.TraceParent ?? "",
        };
        if (task.StartedAt is { } started)
        {
            info.StartedAt = Timestamp.FromDateTimeOffset(started);
        }

        if (task.FinishedAt is { } finished)
        {
            info.FinishedAt = Timestamp.FromDateTimeOffset(finished);
        }

        if (task.DueAt is { } due)
        {
            info.DueAt = Timestamp.FromDateTimeOffset(due);
        }

        AddProgress(info, task);
        return info;
    }

    /// <summary>A task's failed attempts (GetTask only: TaskInfo.attempts), oldest first.</summary>
    public static void AddAttempts(TaskInfo info, IReadOnlyList<FailedAttempt> attempts)
    {
        foreach (var attempt in attempts)
        {
            info.Attempts.Add(new TaskAttempt
            {
                Attempt = attempt.Attempt,
                Error = attempt.Error,
                WorkerId = attempt.WorkerId ?? "",
                FinishedAt = Timestamp.FromDateTimeOffset(attempt.FinishedAt),
                Outcome = attempt.Outcome,
            });
        }
    }

    /// <summary>The progress, checkpoint and lease deadline of the task (TaskInfo fields 17–21).</summary>
    private static void AddProgress(TaskInfo info, TaskSnapshot task)
    {
        info.ProgressPercent = task.ProgressPercent ?? 0;
        info.ProgressMessage = task.ProgressMessage ?? "";
        info.Checkpoint = UnsafeByteOperations.UnsafeWrap(task.Checkpoint);
        if (task.ProgressAt is { } progressAt)
        {
            info.ProgressAt = Timestamp.FromDateTimeOffset(progressAt);
        }

        if (task.LeaseDeadline is { } leaseDeadline)
        {
            info.LeaseDeadline = Timestamp.FromDateTimeOffset(leaseDeadline);
        }
    }

    /// <summary>A Watch event: the task after the change, without its payload, result and checkpoint.</summary>
    public static TaskEvent ToEvent(TaskWatchEventKind kind, TaskSnapshot task)
    {
        var info = ToInfo(task);
        info.Payload = ByteString.Empty;
        info.Result = ByteString.Empty;
        info.Checkpoint = ByteString.Empty;
        return new TaskEvent
        {
            Kind = kind switch
            {
                TaskWatchEventKind.Snapshot => TaskEventKind.Snapshot,
                TaskWatchEventKind.StateChanged => TaskEventKind.StateChanged,
                _ => TaskEventKind.Progress,
            },
            Task = info,
        };
    }

    /// <summary>A ListTasks request as a query; an unspecified state or order is bad input the lister reports.</summary>
    public static TaskListQuery ToQuery(ListTasksRequest request) =>
        new(request.Queue, request.State switch
        {
            ProtoTaskState.Ready => StoreTaskState.Ready,
            ProtoTaskState.Scheduled => StoreTaskState.Scheduled,
            ProtoTaskState.Leased => StoreTaskState.Leased,
            ProtoTaskState.Completed => StoreTaskState.Completed,
            ProtoTaskState.DeadLettered => StoreTaskState.DeadLettered,
            ProtoTaskState.Cancelled => StoreTaskState.Cancelled,
            ProtoTaskState.Expired => StoreTaskState.Expired,
            _ => throw new TaskValidationException("state", "state is required: READY, SCHEDULED, LEASED, DEAD_LETTERED, COMPLETED, CANCELLED or EXPIRED"),
        })
        {
            Type = request.Type.Length == 0 ? null : request.Type,
            Group = request.Group.Length == 0 ? null : request.Group,
            Limit = request.Limit,
            Cursor = request.Cursor.Length == 0 ? null : request.Cursor,
            OldestFirst = request.Order == ListOrder.OldestFirst,
        };

    public static ProtoTaskState ToProto(StoreTaskState state) => state switch
    {
        StoreTaskState.Ready => ProtoTaskState.Ready,
        StoreTaskState.Scheduled => ProtoTaskState.Scheduled,
        StoreTaskState.Leased => ProtoTaskState.Leased,
        StoreTaskState.Completed => ProtoTaskState.Completed,
        StoreTaskState.DeadLettered => ProtoTaskState.DeadLettered,
        StoreTaskState.Cancelled => ProtoTaskState.Cancelled,
        StoreTaskState.Expired => ProtoTaskState.Expired,
        _ => ProtoTaskState.Unspecified,
    };

    public static QueueStats ToProto(QueueCounts counts) => new()
    {
        Queue = counts.Queue,
        Ready = counts.Ready,
        Scheduled = counts.Scheduled,
        Leased = counts.Leased,
        DeadLettered = counts.DeadLettered,
        Submitted = counts.Submitted,
        Completed = counts.Completed,
        Failed = counts.Failed,
        Retried = counts.Retried,
        Expired = counts.Expired,
        Cancelled = counts.Cancelled,
        Paused = counts.Paused,
        Limits = ToProto(counts.Limits),
    };

    public static QueueLimits ToProto(FlowLimits limits) => new()
    {
        Concurrency = limits.Concurrency ?? 0,
        Rate = limits.Rate ?? 0,
        Burst = limits.Burst ?? 0,
        GroupConcurrency = limits.GroupConcurrency ?? 0,
        GroupRate = limits.GroupRate ?? 0,
        GroupBurst = limits.GroupBurst ?? 0,
    };

    /// <summary>The limits as asked for (0: none); the store validates them.</summary>
    public static FlowLimits ToLimits(QueueLimits? limits) => limits is null
        ? FlowLimits.None
        : new FlowLimits(limits.Concurrency, limits.Rate, limits.Burst, limits.GroupConcurrency, limits.GroupRate, limits.GroupBurst);

    public static GroupFlowLimits ToLimits(GroupLimits? limits) =>
        limits is null ? new GroupFlowLimits() : new GroupFlowLimits(limits.Concurrency, limits.Rate, limits.Burst);

    public static QueueFlow ToProto(QueueFlowState flow)
    {
        var response = new QueueFlow
        {
            Queue = flow.Queue,
            Paused = flow.Paused,
            Limits = ToProto(flow.Limits),
            Leased = flow.Leased,
        };
        foreach (var (group, limits) in flow.GroupOverrides)
        {
            response.GroupOverrides[group] = new GroupLimits { Concurrency = limits.Concurrency ?? 0, Rate = limits.Rate ?? 0, Burst = limits.Burst ?? 0 };
        }

        if (flow.Tokens is { } tokens)
        {
            response.Tokens = tokens;
        }

        return response;
    }

    public static AuditEntry ToProto(AuditEntryRecord entry) => new()
    {
        Id = entry.Id,
        Time = Timestamp.FromDateTimeOffset(entry.Time),
        Identity = entry.Record.Identity,
        Action = entry.Record.Action,
        Queue = entry.Record.Queue,
        Target = entry.Record.Target,
        Outcome = entry.Record.Outcome,
    };

    public static ExplainTaskResponse ToProto(TaskExplanation explanation)
    {
        var response = new ExplainTaskResponse
        {
            Reason = (ExplainReason)(int)explanation.Reason,
            Detail = explanation.Detail,
            State = ToProto(explanation.State),
            Ahead = explanation.Ahead,
            AheadIsLowerBound = explanation.AheadIsLowerBound,
            WorkerId = explanation.WorkerId ?? "",
        };
        if (explanation.Until is { } until && until != DateTimeOffset.MaxValue)
        {
            response.Until = Timestamp.FromDateTimeOffset(until);
        }

        return response;
    }
}
