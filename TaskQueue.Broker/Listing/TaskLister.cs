using StackExchange.Redis;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Listing;

/// <summary>What to list: one state of one queue, optionally one type, a page at a time.</summary>
public sealed record TaskListQuery(string Queue, TaskState State)
{
    /// <summary>Only tasks of this type (null: every type); pages may then hold fewer than <see cref="Limit"/>.</summary>
    public string? Type { get; init; }

    /// <summary>Only tasks of this group (null: every group); pages may then hold fewer than <see cref="Limit"/>.</summary>
    public string? Group { get; init; }

    /// <summary>1 to <see cref="TaskLister.MaxLimit"/>; 0 means <see cref="TaskLister.DefaultLimit"/>.</summary>
    public int Limit { get; init; }

    /// <summary>The <see cref="TaskListPage.NextCursor"/> of the previous page; null for the first.</summary>
    public string? Cursor { get; init; }

    public bool OldestFirst { get; init; }
}

/// <summary>One page: the tasks (payload and result left out) and the cursor of the next page, null at the end.</summary>
public sealed record TaskListPage(IReadOnlyList<TaskSnapshot> Tasks, string? NextCursor);

/// <summary>
/// Lists a queue's tasks in one state through the structure that already orders them (the ready streams, the
/// scheduled, leases and dead-letter sets, the finished-task indexes): one script call per page, which reads at
/// most one page of entries and their hashes whatever the queue's size (Scripts/list.lua).
/// </summary>
public sealed class TaskLister(IConnectionMultiplexer redis)
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    internal const string ReadySource = "ready";

    /// <summary>Fields a listing never returns (Get has them). A new large field belongs here too.</summary>
    private static readonly RedisValue[] s_leftOut = [TaskFields.Payload, TaskFields.Result, TaskFields.Checkpoint];

    public async Task<TaskListPage> ListAsync(TaskListQuery query, CancellationToken cancellationToken = default)
    {
        TaskValidation.ValidateQueueName(query.Queue);
        var source = Source(query.State);
        if (query.Limit is < 0 or > MaxLimit)
        {
            throw new TaskValidationException("limit", $"limit must be 0 ({DefaultLimit}) to {MaxLimit}");
        }

        if (query.Type is { Length: > TaskValidation.MaxTypeLength })
        {
            throw new TaskValidationException("type", $"the task type is longer than {TaskValidation.MaxTypeLength} characters");
        }

        if (query.Group is { Length: > 0 } group && (group.Length > TaskValidation.MaxGroupLength || group.Any(char.IsControl)))
        {
            throw new TaskValidationException("group", $"the group must be at most {TaskValidation.MaxGroupLength} printable characters");
        }

        var cursor = ListCursor.Decode(query.Cursor, source, query.OldestFirst);
        cancellationToken.ThrowIfCancellationRequested();
        RedisValue[] args =
        [
            source, query.OldestFirst ? "asc" : "desc", query.Limit == 0 ? DefaultLimit : query.Limit, query.Type ?? "",
            cursor?.Position ?? "", cursor?.Member ?? "", query.Group ?? "", .. s_leftOut,
        ];
        var reply = (RedisResult[])(await redis.GetDatabase().RunScriptAsync(
            ScriptLibrary.List, RedisKeySpace.Of(redis).ScriptKeys(query.Queue), args))!;

        var tasks = new List<TaskSnapshot>();
        for (var i = 2; i < reply.Length;)
        {
            var id = new TaskId(query.Queue, (string)reply[i]!);
            var count = (int)reply[i + 1];
            var entries = new HashEntry[count / 2];
            for (var f = 0; f < entries.Length; f++)
            {
                entries[f] = new HashEntry((string)reply[i + 2 + (2 * f)]!, (RedisValue)reply[i + 3 + (2 * f)]);
            }

            tasks.Add(RedisTaskStore.ToSnapshot(id, entries));
            i += 2 + count;
        }

        var position = (string?)reply[0];
        var next = string.IsNullOrEmpty(position) ? null : new ListCursor(position, (string)reply[1]!).Encode(source, query.OldestFirst);
        return new TaskListPage(tasks, next);
    }

    /// <summary>The structure a state is listed from (the script's ARGV[1]).</summary>
    private static string Source(TaskState state) => state switch
    {
        TaskState.Ready => ReadySource,
        TaskState.Scheduled => "scheduled",
        TaskState.Leased => "leased",
        TaskState.DeadLettered => "dead",
        TaskState.Completed => "completed",
        TaskState.Cancelled => "cancelled",
        TaskState.Expired => "expired",
        _ => throw new TaskValidationException("state", "name the state to list"),
    };
}
