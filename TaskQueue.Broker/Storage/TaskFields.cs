namespace TaskQueue.Broker.Storage;

/// <summary>
/// The fields of a task's hash (<see cref="RedisKeys.Task"/>). The Lua scripts spell the same names (they
/// are listed in the header of Scripts/lib/common.lua; a unit test keeps the two lists equal).
/// </summary>
public static class TaskFields
{
    public const string State = "state";
    public const string Token = "token";
    public const string StreamEntry = "sid";
    public const string Priority = "prio";
    public const string Attempt = "attempt";
    public const string Worker = "worker";
    public const string IdempotencyKey = "ikey";
    public const string Expires = "expires";
    public const string Type = "type";
    public const string MaxAttempts = "max";
    public const string Timeout = "timeout";
    public const string TraceParent = "tp";
    public const string TraceState = "ts";
    public const string CancelRequested = "cancel";
    public const string Created = "created";
    public const string Due = "due";
    public const string Id = "id";
    public const string Queue = "queue";
    public const string Payload = "payload";
    public const string Enqueued = "enqueued";
    public const string Started = "started";
    public const string Finished = "finished";
    public const string Result = "result";
    public const string Error = "error";
    public const string UniqueKey = "ukey";
    public const string DebounceKey = "dkey";

    /// <summary>Its group (absent when none): the key of the claim's round-robin and of the group limits.</summary>
    public const string Group = "group";

    /// <summary>The lane whose ready stream holds the task's entry (<see cref="RedisKeys.Lane"/>); missing on tasks stored before lanes, whose lane is their priority.</summary>
    public const string Lane = "lane";
    /// <summary>The last progress percent a lease holder reported (fenced by its token).</summary>
    public const string Progress = "progress";
    public const string ProgressMessage = "pmsg";
    public const string ProgressAt = "pat";

    /// <summary>The last checkpoint a lease holder stored (fenced); the next attempt receives it.</summary>
    public const string Checkpoint = "checkpoint";

    /// <summary>"1" once a failed attempt was recorded in <see cref="RedisKeys.Attempts"/> (absent: no history).</summary>
    public const string AttemptHistory = "hist";

    /// <summary>Every field above, in the order the enqueue script writes them (then those written later).</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        State, Token, StreamEntry, Priority, Attempt, Worker, IdempotencyKey, Expires, Type, MaxAttempts, Timeout,
        TraceParent, TraceState, CancelRequested, Created, Due, Id, Queue, Payload, Enqueued, Started, Finished,
        Result, Error, Lane, Progress, ProgressMessage, ProgressAt, Checkpoint, UniqueKey, DebounceKey,
        Group, AttemptHistory,
    ];
}
