using System.Globalization;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Every Redis key name TaskQueue uses. The keys of one queue share the hash tag <c>{queue}</c>, so each
/// script touches a single Redis Cluster slot. The Lua side (Scripts/lib/common.lua) appends the same
/// suffixes to <see cref="QueuePrefix"/>.
/// </summary>
public static class RedisKeys
{
    /// <summary>
    /// The registry of live queues: every queue that holds anything, and those a worker or submit named lately. An empty
    /// queue leaves it after <see cref="TaskStoreOptions.QueueIdleExpiry"/>; <c>TaskQueue:Limits:MaxQueues</c> caps it.
    /// </summary>
    public const string Queues = "tq:queues";

    /// <summary>
    /// The due index: a sorted set of queue names scored by the earliest ms (Redis time) at which something in the
    /// queue may fall due — a lease deadline, scheduled work, a dead letter's end of age, an idle queue's expiry. The
    /// scripts that create such things lower the score; the reaper's and the promoter's visits set the true one. The
    /// background loops visit only the queues whose time has come.
    /// </summary>
    public const string Due = "tq:due";

    /// <summary>
    /// In a Redis Cluster a script may touch only its queue's slot, so there the registry, the due index and the
    /// schedule index are kept per slot, in the queue's slot (named by the slot's <see cref="ClusterSlots.Tag"/>):
    /// <see cref="SlotQueues"/>, <see cref="SlotDue"/>, <see cref="SlotScheduleDue"/>. This set names the slots that ever
    /// held a registered queue (their tags), the background loops' list of indexes to visit. On a single Redis the
    /// global keys above serve instead (<see cref="RedisKeySpace"/> picks).
    /// </summary>
    public const string Slots = "tq:slots";

    /// <summary>A slot's share of <see cref="Queues"/> (cluster mode).</summary>
    public static string SlotQueues(string tag) => Queues + ":{" + tag + "}";

    /// <summary>A slot's share of <see cref="Due"/> (cluster mode).</summary>
    public static string SlotDue(string tag) => Due + ":{" + tag + "}";

    /// <summary>A slot's share of <see cref="ScheduleDue"/> (cluster mode).</summary>
    public static string SlotScheduleDue(string tag) => ScheduleDue + ":{" + tag + "}";

    /// <summary>The worker registry: one hash per worker, shared by every broker.</summary>
    public static string Worker(string workerId) => "tq:worker:" + workerId;

    /// <summary>The audit trail: a capped stream of admin actions (no consumer groups; trimmed as it grows).</summary>
    public const string Audit = "tq:audit";

    /// <summary>The set of worker ids known to any broker.</summary>
    public const string Workers = "tq:workers";

    /// <summary>The identity a worker id is bound to (a string, refreshed while the worker heartbeats, then expiring).</summary>
    public static string WorkerOwner(string workerId) => "tq:worker-owner:" + workerId;

    public static string QueuePrefix(string queue) => "tq:{" + queue + "}:";

    public static string Task(TaskId id) => QueuePrefix(id.Queue) + "t:" + id.LocalId;

    /// <summary>
    /// A task's failed attempts (a list of JSON objects, oldest first, Scripts/lib/settle.lua), in the task's slot:
    /// expired and deleted with its hash (<see cref="TaskFields.AttemptHistory"/> marks a task that has one).
    /// </summary>
    public static string Attempts(TaskId id) => QueuePrefix(id.Queue) + "attempts:" + id.LocalId;

    /// <summary>The most failed attempts a task's history keeps (the newest); settle.lua's ATTEMPT_HISTORY_CAP.</summary>
    public const int AttemptHistoryCap = 20;

    /// <summary>
    /// The ready stream of one lane: a queue's ready work of one priority and task type
    /// (<see cref="Lane(int, string)"/>). A worker's claim reads only the lanes of the types it handles.
    /// </summary>
    public static string Ready(string queue, int priority, string type) => ReadyLane(queue, Lane(priority, type));

    /// <summary>
    /// The ready stream of a priority in the layout before lanes, which held every type: still read by every
    /// worker until it drains (a task there is leased by a worker that handles it, or moved to its lane).
    /// </summary>
    public static string Ready(string queue, int priority) => ReadyLane(queue, priority.ToString(CultureInfo.InvariantCulture));

    /// <summary>The ready stream of a lane named as <see cref="Levels"/> lists it.</summary>
    public static string ReadyLane(string queue, string lane) => QueuePrefix(queue) + "ready:" + lane;

    /// <summary>A lane's name, "priority:type", as <see cref="Levels"/> lists it and a task's <see cref="TaskFields.Lane"/> holds it.</summary>
    public static string Lane(int priority, string type) => priority.ToString(CultureInfo.InvariantCulture) + ":" + type;

    /// <summary>
    /// The separator of a group lane's name, "priority:type" + it + "group" (lib/common.lua's GROUP_MARK): a
    /// control character, which neither task types nor groups may hold.
    /// </summary>
    public const char GroupMark = '\u001f';

    /// <summary>The lane of a group's tasks of one priority and type; without a group, <see cref="Lane(int, string)"/>.</summary>
    public static string Lane(int priority, string type, string? group) =>
        string.IsNullOrEmpty(group) ? Lane(priority, type) : Lane(priority, type) + GroupMark + group;

    /// <summary>A lane's group; empty for a lane without one.</summary>
    public static string GroupOfLane(string lane)
    {
        var mark = lane.IndexOf(GroupMark, StringComparison.Ordinal);
        return mark < 0 ? "" : lane[(mark + 1)..];
    }

    /// <summary>A lane's priority and task type; the type is null for a lane of the old layout (every type).</summary>
    public static (int Priority, string? Type) ParseLane(string lane)
    {
        var mark = lane.IndexOf(GroupMark, StringComparison.Ordinal);
        if (mark >= 0)
        {
            lane = lane[..mark];
        }

        var colon = lane.IndexOf(':', StringComparison.Ordinal);
        return colon < 0
            ? (int.Parse(lane, CultureInfo.InvariantCulture), null)
            : (int.Parse(lane.AsSpan(0, colon), CultureInfo.InvariantCulture), lane[(colon + 1)..]);
    }

    /// <summary>The set of a queue's lanes that ever held ready work (<see cref="ReadyLane"/>): "priority:type", or "priority" for the old layout.</summary>
    public static string Levels(string queue) => QueuePrefix(queue) + "levels";

    public static string Leases(string queue) => QueuePrefix(queue) + "leases";

    public static string Scheduled(string queue) => QueuePrefix(queue) + "scheduled";

    public static string DeadLetters(string queue) => QueuePrefix(queue) + "dead";

    /// <summary>
    /// A queue's lifetime counters (submitted, completed, ...), and while it is empty its idle clock (idle_since,
    /// idle_submitted: when a visit first found it empty, and the submitted count then).
    /// </summary>
    public static string Stats(string queue) => QueuePrefix(queue) + "stats";

    /// <summary>
    /// A hash of the lanes that may hold reclaimed work (lane → "1"): a crashed worker's tasks keep their stream
    /// entries, moved to the group's consumer "front", and a claim leases those before the lane's new entries.
    /// A claim that finds a lane's front empty removes the lane.
    /// </summary>
    public static string Front(string queue) => QueuePrefix(queue) + "front";

    /// <summary>A counter turning the order in which a claim serves the lanes whose oldest task waited past the priority max wait.</summary>
    public static string Turn(string queue) => QueuePrefix(queue) + "turn";

    /// <summary>
    /// A queue's flow settings (Scripts/lib/flow.lua): a hash with <see cref="FlowFields"/>; an absent field is no limit.
    /// </summary>
    public static string Flow(string queue) => QueuePrefix(queue) + "flow";

    /// <summary>A queue's per-group overrides of its group limits: group → "concurrency rate burst" ("-" where the default applies).</summary>
    public static string FlowGroups(string queue) => QueuePrefix(queue) + "flow:groups";

    /// <summary>
    /// The index of schedules with a visit to come: a sorted set, queue → the earliest visit among its schedules (+inf
    /// when all are paused). Every queue with a schedule is in it; the scheduler visits only the queues whose time has come.
    /// </summary>
    public const string ScheduleDue = "tq:sched:due";

    /// <summary>Pub/sub: a queue name whose schedules changed (upsert, resume): wakes every broker's scheduler.</summary>
    public const string ScheduleChannel = "tq:sched";

    /// <summary>A queue's schedules: a sorted set, name → ms of its next visit (its next slot; +inf while paused).</summary>
    public static string Schedules(string queue) => QueuePrefix(queue) + "sched";

    /// <summary>One schedule: a hash with <see cref="ScheduleFields"/> (its definition and where it stands).</summary>
    public static string Schedule(string queue, string name) => QueuePrefix(queue) + "sched:" + name;

    /// <summary>
    /// The set of a queue's group lanes whose streams exist, in the layout before group lanes became sorted sets
    /// (lib/common.lua): the first claim that serves a rotation moves them into <see cref="GroupReady"/> sets.
    /// </summary>
    public static string GroupLanes(string queue) => QueuePrefix(queue) + "glanes";

    /// <summary>
    /// A group lane's ready tasks (lib/common.lua): a sorted set, task id → its order (<see cref="LaneSeq"/>; a
    /// crashed worker's reclaimed task lower, ahead of the rest). The task's <see cref="TaskFields.StreamEntry"/> is
    /// "g" + that order while it is in the lane or leased from it.
    /// </summary>
    public static string GroupReady(string queue, string lane) => QueuePrefix(queue) + "gready:" + lane;

    /// <summary>A counter: the order of the tasks entering a queue's group lanes (<see cref="GroupReady"/>'s scores).</summary>
    public static string LaneSeq(string queue) => QueuePrefix(queue) + "lane:seq";

    /// <summary>A hash: "priority:type" -> the turn counter of that lane's rotation, while the rotation holds a group.</summary>
    public static string Rotations(string queue) => QueuePrefix(queue) + "rotations";

    /// <summary>A sorted set: the groups of one priority and type with ready work -> their turn ('' is the lane without a group).</summary>
    public static string Rotation(string queue, int priority, string type) => QueuePrefix(queue) + "rotation:" + Lane(priority, type);

    /// <summary>A hash: group -> the number of its tasks leased now (no field: none).</summary>
    public static string GroupLeased(string queue) => QueuePrefix(queue) + "group:leased";

    /// <summary>A group's token bucket, "tokens ms" (no key: full).</summary>
    public static string GroupBucket(string queue, string group) => QueuePrefix(queue) + "group:bucket:" + group;
    /// <summary>A queue's token bucket as last spent (a hash: tokens, at = Redis ms); absent = full. It expires once full again.</summary>
    public static string FlowBucket(string queue) => QueuePrefix(queue) + "flow:bucket";

    public static string Idempotency(string queue, string key) => QueuePrefix(queue) + "idem:" + key;

    /// <summary>The task holding a unique key while it is not final (a string: its local id).</summary>
    public static string Unique(string queue, string key) => QueuePrefix(queue) + "uniq:" + key;

    /// <summary>The last task created with a debounce key (a string: its local id), until it is final.</summary>
    public static string Debounce(string queue, string key) => QueuePrefix(queue) + "debounce:" + key;

    /// <summary>
    /// Retained finished tasks in one final state ("completed", "cancelled", "expired"), scored by finish time:
    /// the index ListTasks pages through, trimmed by the retention whenever a task joins it.
    /// </summary>
    public static string Finished(string queue, string state) => QueuePrefix(queue) + "finished:" + state;

    /// <summary>Ids of tasks some broker waits on; finishing one publishes it on <see cref="FinishedChannel"/>.</summary>
    public static string Waiters(string queue) => QueuePrefix(queue) + "waiters";

    /// <summary>
    /// A hash of the tasks some broker watches (TaskService.Watch): id → open watches. While a task is in it, the
    /// scripts publish its changes on <see cref="ChangedChannel"/>; it leaves when the count is zero or the task final.
    /// </summary>
    public static string Watchers(string queue) => QueuePrefix(queue) + "watchers";

    /// <summary>Pub/sub: "tq:{queue}:localid" of each watched task whose state or progress changed.</summary>
    public const string ChangedChannel = "tq:changed";

    /// <summary>Pub/sub: "tq:{queue}:localid" of each waited-on task that reached a final state.</summary>
    public const string FinishedChannel = "tq:finished";

    /// <summary>Pub/sub: a queue name whose ready streams just received work (wakes every broker's dispatcher).</summary>
    public const string ReadyChannel = "tq:ready";

    /// <summary>Pub/sub: "workerId taskId" of a running task whose cancellation was requested.</summary>
    public const string CancelChannel = "tq:cancel";

    /// <summary>Parses a <see cref="FinishedChannel"/> (or <see cref="ChangedChannel"/>) message back into a task id.</summary>
    public static TaskId? ParseFinished(string message)
    {
        var open = message.IndexOf('{', StringComparison.Ordinal);
        var close = message.IndexOf("}:", StringComparison.Ordinal);
        return open < 0 || close < open ? null : new TaskId(message[(open + 1)..close], message[(close + 2)..]);
    }
}
