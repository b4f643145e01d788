using System.Globalization;
using System.Text;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// Shared steps and checks of the store's transition tests: the structural invariant, a fingerprint of
/// a queue's Redis state (for "nothing changed"), Redis's clock as the scripts see it, bounded waits.
/// </summary>
public static class StoreChecks
{
    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>How much lower a reclaimed task's score is in its group lane (lib/common.lua's RECLAIMED).</summary>
    public const double GroupLaneReclaimed = 1125899906842624; // 2^50

    /// <summary>
    /// Every non-final task is in exactly one of: its ready stream (undelivered, or reclaimed after a crash and
    /// pending for the consumer "front", at the entry its hash names) or its group lane (at the place its hash names,
    /// with its group in the lane's rotation), the leases zset (with one delivered entry, none from a group lane),
    /// the scheduled zset; dead letters are only in the
    /// dead zset; other final tasks are in none. No structure names a task that is missing or in another
    /// state, no delivered entry is left unacknowledged, and the queue's counts agree.
    /// </summary>
    public static async Task AssertConsistentAsync(StoreHarness h)
    {
        var db = h.Db;
        var queue = h.Queue;
        var taskPrefix = RedisKeys.QueuePrefix(queue) + "t:";
        var problems = new List<string>();

        var undelivered = new Dictionary<string, List<(string Lane, string Sid)>>(StringComparer.Ordinal);
        var delivered = new Dictionary<string, List<(string Lane, string Sid)>>(StringComparer.Ordinal);
        var lanes = (await db.SetMembersAsync(RedisKeys.Levels(queue))).Concat(await db.SetMembersAsync(RedisKeys.GroupLanes(queue)));
        foreach (var lane in lanes.Select(v => (string)v!))
        {
            var stream = RedisKeys.ReadyLane(queue, lane);
            var pending = await PendingIdsAsync(db, stream);
            var entries = await db.StreamRangeAsync(stream);
            var present = entries.Select(e => (string)e.Id!).ToHashSet(StringComparer.Ordinal);
            foreach (var orphan in pending.Where(p => !present.Contains(p)))
            {
                problems.Add($"{stream}: pending entry {orphan} no longer exists (delivered, never acknowledged)");
            }

            foreach (var entry in entries)
            {
                var id = (string)entry.Values.Single(v => v.Name == "id").Value!;
                var target = pending.Contains((string)entry.Id!) ? delivered : undelivered;
                if (!target.TryGetValue(id, out var list))
                {
                    target[id] = list = [];
                }

                list.Add((lane, (string)entry.Id!));
            }
        }

        // Group lanes: sorted sets of task ids, each at "g" + its order (a reclaimed one RECLAIMED lower).
        var groupReadyPrefix = RedisKeys.QueuePrefix(queue) + "gready:";
        foreach (var key in (await h.QueueKeysAsync()).Where(k => k.StartsWith(groupReadyPrefix, StringComparison.Ordinal)))
        {
            var lane = key[groupReadyPrefix.Length..];
            var (priority, type) = RedisKeys.ParseLane(lane);
            var rotation = RedisKeys.Rotation(queue, priority, type!);
            if (await db.SortedSetScoreAsync(rotation, RedisKeys.GroupOfLane(lane)) is null)
            {
                problems.Add($"{key} holds ready work but its group is not in {rotation}");
            }

            foreach (var entry in await db.SortedSetRangeByRankWithScoresAsync(key))
            {
                var id = (string)entry.Element!;
                // Its order: the score less any multiple of RECLAIMED (reclaimed; or moved from an old layout's stream).
                var order = ((entry.Score % GroupLaneReclaimed) + GroupLaneReclaimed) % GroupLaneReclaimed;
                if (!undelivered.TryGetValue(id, out var list))
                {
                    undelivered[id] = list = [];
                }

                list.Add((lane, "g" + order.ToString("0", CultureInfo.InvariantCulture)));
            }
        }

        var leases = await MembersAsync(db, RedisKeys.Leases(queue));
        var scheduled = await MembersAsync(db, RedisKeys.Scheduled(queue));
        var dead = await MembersAsync(db, RedisKeys.DeadLetters(queue));

        var states = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in (await h.QueueKeysAsync()).Where(k => k.StartsWith(taskPrefix, StringComparison.Ordinal)))
        {
            var id = key[taskPrefix.Length..];
            var fields = (await db.HashGetAllAsync(key)).ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? "", StringComparer.Ordinal);
            if (fields.Count == 0)
            {
                continue; // its retention ran out while we looked
            }

            var state = fields.GetValueOrDefault(TaskFields.State, "");
            states[id] = state;
            var sid = fields.GetValueOrDefault(TaskFields.StreamEntry, "");
            // A task stored before lanes has no lane field: its stream is its priority's.
            var lane = fields.GetValueOrDefault(TaskFields.Lane) ?? fields.GetValueOrDefault(TaskFields.Priority, "-1");
            var inReady = undelivered.GetValueOrDefault(id) ?? [];
            var inDelivered = delivered.GetValueOrDefault(id) ?? [];
            var places = new List<string>();
            if (inReady.Count > 0)
            {
                places.Add($"ready x{inReady.Count}");
            }

            if (leases.Contains(id))
            {
                places.Add("leases");
            }

            if (scheduled.Contains(id))
            {
                places.Add("scheduled");
            }

            if (dead.Contains(id))
            {
                places.Add("dead");
            }

            var expected = state switch
            {
                "ready" => "ready x1",
                "leased" => "leases",
                "scheduled" => "scheduled",
                "dead" => "dead",
                "completed" or "cancelled" or "expired" => "",
                _ => $"(unknown state '{state}')",
            };
            if (string.Join(",", places) != expected)
            {
                problems.Add($"task {id} is {state} but is in [{string.Join(",", places)}]");
            }

            if (state == "ready" && inReady.Count == 1 && (inReady[0].Sid != sid || inReady[0].Lane != lane))
            {
                problems.Add($"task {id} is ready at {lane}/{sid} but its entry is {inReady[0].Lane}/{inReady[0].Sid}");
            }

            // A task leased from a stream holds its delivered entry; one leased from a group lane ('g' sid) holds none, nor
            // does one whose group stream an upgrade moved while it was leased (sid '').
            var expectedDelivered = state == "leased" && sid != "" && !sid.StartsWith('g') ? 1 : 0;
            if (inDelivered.Count != expectedDelivered)
            {
                problems.Add($"task {id} is {state} with {inDelivered.Count} delivered stream entries");
            }
            else if (state == "leased" && string.IsNullOrEmpty(fields.GetValueOrDefault("token")))
            {
                problems.Add($"task {id} is leased without its token");
            }
            else if (state == "leased" && expectedDelivered == 1 && inDelivered[0].Sid != sid)
            {
                problems.Add($"task {id} is leased without its token or at another entry than its sid");
            }
        }

        foreach (var (structure, ids) in new (string, IEnumerable<string>)[]
                 {
                     ("ready stream", undelivered.Keys), ("delivered entries", delivered.Keys), ("leases", leases),
                     ("scheduled", scheduled), ("dead", dead),
                 })
        {
            foreach (var id in ids.Where(id => !states.ContainsKey(id)))
            {
                problems.Add($"{structure} names task {id}, which has no hash");
            }
        }

        var counts = await h.Store.GetCountsAsync(queue);
        long Count(string state) => states.Values.Count(s => s == state);
        var actual = (counts.Ready, counts.Leased, counts.Scheduled, counts.DeadLettered);
        var byState = (Count("ready"), Count("leased"), Count("scheduled"), Count("dead"));
        if (actual != byState)
        {
            problems.Add($"counts (ready, leased, scheduled, dead) are {actual} but the task hashes say {byState}");
        }

        Assert.True(problems.Count == 0, "Store invariant broken:\n" + string.Join("\n", problems));
    }

    /// <summary>Stats counters that only observe calls (a refused stale report is counted) and so are not state.</summary>
    private static readonly HashSet<string> s_observationCounters = new(StringComparer.Ordinal) { "stale" };

    /// <summary>
    /// Everything stored for the queue, as text: compare two to prove a call changed nothing (apart from
    /// the observation counters).
    /// </summary>
    public static async Task<string> FingerprintAsync(StoreHarness h)
    {
        var db = h.Db;
        var text = new StringBuilder();
        foreach (var key in (await h.QueueKeysAsync()).Order(StringComparer.Ordinal))
        {
            text.Append(key).Append(" = ");
            switch (await db.KeyTypeAsync(key))
            {
                case RedisType.Hash:
                    foreach (var entry in (await db.HashGetAllAsync(key))
                                 .Where(e => key != RedisKeys.Stats(h.Queue) || !s_observationCounters.Contains((string)e.Name!))
                                 .OrderBy(e => (string)e.Name!, StringComparer.Ordinal))
                    {
                        text.Append(entry.Name).Append(':').Append(entry.Value).Append(';');
                    }

                    break;
                case RedisType.SortedSet:
                    foreach (var entry in await db.SortedSetRangeByRankWithScoresAsync(key))
                    {
                        text.Append(entry.Element).Append('@').Append(entry.Score).Append(';');
                    }

                    break;
                case RedisType.Stream:
                    foreach (var entry in await db.StreamRangeAsync(key))
                    {
                        text.Append(entry.Id).Append(';');
                    }

                    text.Append(" pending ").AppendJoin(';', (await PendingIdsAsync(db, key)).Order(StringComparer.Ordinal));
                    break;
                case RedisType.Set:
                    text.AppendJoin(';', (await db.SetMembersAsync(key)).Select(v => (string)v!).Order(StringComparer.Ordinal));
                    break;
                case RedisType.List: // a task's attempt history
                    text.AppendJoin(';', (await db.ListRangeAsync(key)).Select(v => (string)v!));
                    break;
                default:
                    text.Append(await db.StringGetAsync(key));
                    break;
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The scripts' "now": Redis TIME plus the harness's clock shift, in unix ms.</summary>
    public static async Task<long> NowMsAsync(StoreHarness h)
    {
        var reply = (RedisResult[])(await h.Db.ExecuteAsync("TIME"))!;
        return ((long)reply[0] * 1000) + ((long)reply[1] / 1000) + (long)h.Clock.Value.TotalMilliseconds;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds, failing after <paramref name="timeout"/>.</summary>
    /// <summary>How often storage tests poll Redis while they wait (with <see cref="Eventually"/>).</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);

    public static Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(StoreHarness h, int count, Func<int, NewTask>? make = null) =>
        h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, count).Select(i => make?.Invoke(i) ?? h.Task(payload: "task " + i))]);

    public static async Task<LeasedTask> ClaimOneAsync(StoreHarness h, TimeSpan? lease = null, string worker = "w1") =>
        Assert.Single((await h.Store.ClaimAsync(h.Queue, worker, 1, lease ?? Lease)).Tasks);

    /// <summary>Claims until the queue has nothing ready.</summary>
    public static async Task<List<LeasedTask>> ClaimAllAsync(StoreHarness h, TimeSpan? lease = null, string worker = "w1")
    {
        var all = new List<LeasedTask>();
        while (true)
        {
            var claim = await h.Store.ClaimAsync(h.Queue, worker, 100, lease ?? Lease);
            if (claim.Tasks.Count == 0)
            {
                return all;
            }

            all.AddRange(claim.Tasks);
        }
    }

    public static async Task<TransitionResult> CompleteAsync(StoreHarness h, LeasedTask task, string result = "done") =>
        Assert.Single(await h.Store.CompleteAsync(h.Queue, [new TaskCompletion(task.Id, task.LeaseToken, Encoding.UTF8.GetBytes(result))]));

    public static async Task<TransitionResult> FailAsync(StoreHarness h, LeasedTask task, string error = "boom", bool retryable = true) =>
        Assert.Single(await h.Store.FailAsync(h.Queue, [new TaskFailure(task.Id, task.LeaseToken, error, retryable)]));

    /// <summary>Enqueues tasks with one attempt and fails them, one after another <paramref name="spacing"/> apart.</summary>
    public static async Task<List<TaskId>> DeadLetterAsync(StoreHarness h, int count, TimeSpan spacing, string error = "fatal")
    {
        var ids = new List<TaskId>();
        for (var i = 0; i < count; i++)
        {
            await h.Store.EnqueueAsync(h.Task(payload: "dead " + i) with { MaxAttempts = 1 });
            var task = await ClaimOneAsync(h);
            Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, task, error + " " + i, retryable: false));
            ids.Add(task.Id);
            h.Advance(spacing);
        }

        return ids;
    }

    /// <summary>Ids in a fixed order, to compare two collections as sets (TaskId itself has no order).</summary>
    public static IEnumerable<string> Sorted(IEnumerable<TaskId> ids) => ids.Select(id => id.ToString()).Order(StringComparer.Ordinal);

    public static async Task<TaskSnapshot> SnapshotAsync(StoreHarness h, TaskId id) =>
        await h.Store.GetAsync(id) ?? throw new InvalidOperationException($"Task {id} does not exist.");

    private static async Task<HashSet<string>> MembersAsync(IDatabase db, string key) =>
        (await db.SortedSetRangeByRankAsync(key)).Select(v => (string)v!).ToHashSet(StringComparer.Ordinal);

    /// <summary>The entries delivered to leases (consumer "leased"); a reclaimed entry (consumer "front") is ready work.</summary>
    private static async Task<HashSet<string>> PendingIdsAsync(IDatabase db, string stream)
    {
        var reply = (RedisResult[])(await db.ExecuteAsync("XPENDING", stream, "tq", "-", "+", 1_000_000))!;
        return reply.Select(r => (RedisResult[])r!)
            .Where(r => (string?)r[1] != "front")
            .Select(r => (string)r[0]!)
            .ToHashSet(StringComparer.Ordinal);
    }
}
