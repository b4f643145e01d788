using System.Globalization;
using StackExchange.Redis;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Storage;

/// <summary>What every broker knows about a worker (GET /workers), read from Redis.</summary>
public sealed record WorkerRecord(
    string WorkerId,
    string Status,
    string Broker,
    IReadOnlyList<string> Queues,
    int Slots,
    int Busy,
    long TasksCompleted,
    DateTimeOffset? LastHeartbeat,
    DateTimeOffset? QuarantinedUntil)
{
    /// <summary>Slots held by handlers whose lease was lost and that have not returned.</summary>
    public int StuckSlots { get; init; }

    /// <summary>The task types it handles; empty: every type.</summary>
    public IReadOnlyList<string> TaskTypes { get; init; } = [];

    /// <summary>The tasks it held leased at its last heartbeat, the first <see cref="WorkerRegistry.MaxListedRunning"/> ("queue:id"); <see cref="Busy"/> counts them all.</summary>
    public IReadOnlyList<string> RunningTasks { get; init; } = [];

    /// <summary>Connected and heartbeating (not disconnected, not silent); it may still be quarantined.</summary>
    public bool IsAlive => Status != WorkerStatuses.Disconnected;

    /// <summary>Whether it runs tasks of <paramref name="type"/>.</summary>
    public bool Handles(string type) => TaskTypes.Count == 0 || TaskTypes.Contains(type, StringComparer.Ordinal);
}

/// <summary>What a heartbeat reads back: the run of lease expiries, the quarantine deadline, and whether the worker is to drain.</summary>
public sealed record HeartbeatAnswer(long ExpiredStreak, DateTimeOffset? QuarantinedUntil, bool Draining);

/// <summary>
/// The worker registry in Redis, shared by all brokers: a hash per worker (kept a day after it was last
/// seen) and a set of worker ids. Lease expiries are counted per worker here, because the broker that
/// reaps a lease is not always the one the worker is connected to.
/// </summary>
public sealed class WorkerRegistry(IConnectionMultiplexer redis)
{
    /// <summary>How many of a worker's running tasks its entry lists (the count is <see cref="WorkerFields.Busy"/>).</summary>
    public const int MaxListedRunning = 100;

    private static readonly TimeSpan s_keep = TimeSpan.FromDays(1);

    private IDatabase Db => redis.GetDatabase();

    /// <summary>
    /// Records a heartbeat (with its stuck slots, the first <see cref="MaxListedRunning"/> of <paramref name="running"/>, and at
    /// registration, <paramref name="connectedAt"/> set, the task types and process <paramref name="instance"/> of the worker's
    /// Hello). A draining session sets the drain flag; one that connects not draining keeps it only as the same process that was
    /// drained (its instance, while it was between connections), and clears it otherwise (a new process: one more read at
    /// registration). Returns, read in the same round trip, the worker's run of
    /// consecutive lease expiries (reset to zero when it completed something since the last heartbeat), its quarantine deadline,
    /// and the drain flag (set by <see cref="RequestDrainAsync"/> on any broker).
    /// </summary>
    public async Task<HeartbeatAnswer> HeartbeatAsync(
        string workerId, string broker, IReadOnlyList<string> queues, int slots, int busy, long completedDelta,
        bool connected, DateTimeOffset now, DateTimeOffset? connectedAt = null, int stuckSlots = 0, IReadOnlyList<string>? taskTypes = null,
        IReadOnlyCollection<string>? running = null, bool draining = false, string instance = "")
    {
        var key = RedisKeys.Worker(workerId);
        var drainFlag = draining ? 1 : (int?)null;
        if (connectedAt is not null && !draining)
        {
            var before = await Db.HashGetAsync(key, [WorkerFields.Draining, WorkerFields.Instance]);
            var sameProcess = instance.Length > 0 && before[1] == instance;
            drainFlag = sameProcess && ToLong(before[0]) == 1 ? 1 : 0;
        }

        var batch = Db.CreateBatch();
        _ = batch.SetAddAsync(RedisKeys.Workers, workerId);
        _ = batch.HashSetAsync(key,
        [
            new(WorkerFields.Broker, broker), new(WorkerFields.Queues, string.Join(',', queues)),
            new(WorkerFields.Slots, slots), new(WorkerFields.Busy, busy),
            new(WorkerFields.LastHeartbeat, now.ToUnixTimeMilliseconds()), new(WorkerFields.Connected, connected ? 1 : 0),
            new(WorkerFields.Stuck, stuckSlots),
            new(WorkerFields.Running, string.Join(',', (running ?? []).Take(MaxListedRunning))),
        ]);
        if (taskTypes is not null)
        {
            _ = batch.HashSetAsync(key, WorkerFields.Types, string.Join(',', taskTypes));
        }

        if (connectedAt is { } since)
        {
            _ = batch.HashSetAsync(key, [new(WorkerFields.ConnectedAt, since.ToUnixTimeMilliseconds()), new(WorkerFields.Instance, instance)]);
        }

        if (drainFlag is { } flag)
        {
            _ = batch.HashSetAsync(key, WorkerFields.Draining, flag);
        }

        if (completedDelta > 0)
        {
            _ = batch.HashIncrementAsync(key, WorkerFields.Completed, completedDelta);
            _ = batch.HashSetAsync(key, WorkerFields.ExpiredStreak, 0);
        }

        _ = batch.KeyExpireAsync(key, s_keep);
        var read = batch.HashGetAsync(key, [WorkerFields.ExpiredStreak, WorkerFields.QuarantinedUntil, WorkerFields.Draining]);
        batch.Execute();
        var values = await read;
        return new HeartbeatAnswer(ToLong(values[0]), ToTime(values[1]), ToLong(values[2]) == 1);
    }

    /// <summary>
    /// Sets the worker's drain flag (DrainWorker): its session, on whichever broker, drains it at its next heartbeat if the
    /// direct message did not reach it. Returns the entry as it was, or null (changing nothing) when the registry does not know the worker.
    /// </summary>
    public async Task<WorkerRecord?> RequestDrainAsync(string workerId, DateTimeOffset now, TimeSpan silenceLimit)
    {
        var record = await GetAsync(workerId, now, silenceLimit);
        if (record is not null)
        {
            await Db.HashSetAsync(RedisKeys.Worker(workerId), WorkerFields.Draining, 1);
        }

        return record;
    }

    /// <summary>One worker's entry, or null when the registry does not know it.</summary>
    public async Task<WorkerRecord?> GetAsync(string workerId, DateTimeOffset now, TimeSpan silenceLimit)
    {
        var entries = await Db.HashGetAllAsync(RedisKeys.Worker(workerId));
        return entries.Length == 0 ? null : ToRecord(workerId, entries, now, silenceLimit);
    }

    /// <summary>
    /// Leases of this worker expired (the reaper took the tasks back); returns the run so far. Only a
    /// worker that is alive and holding its tasks is poison: leases granted before its current connection
    /// do not count (a broker died before delivering them), nor do leases of a worker that is gone or
    /// has gone silent (crashed, disconnected, frozen by a long GC pause or a stopped VM, cut off) — it
    /// lost them by not being there, and it gets them back as lost when it returns.
    /// </summary>
    public async Task<long> CountExpiredLeasesAsync(
        string workerId, IReadOnlyCollection<DateTimeOffset> leasedAt, DateTimeOffset now, TimeSpan silenceLimit)
    {
        var key = RedisKeys.Worker(workerId);
        var db = Db;
        var values = await db.HashGetAsync(key, [WorkerFields.Connected, WorkerFields.ConnectedAt, WorkerFields.LastHeartbeat]);
        if ((int?)values[0] != 1 || ToTime(values[2]) is not { } lastHeartbeat || now - lastHeartbeat > silenceLimit)
        {
            return 0;
        }

        var since = ToTime(values[1]) ?? DateTimeOffset.MinValue;
        var count = leasedAt.Count(t => t >= since);
        return count > 0
            ? await db.HashIncrementAsync(key, WorkerFields.ExpiredStreak, count)
            : (long?)await db.HashGetAsync(key, WorkerFields.ExpiredStreak) ?? 0;
    }

    public async Task QuarantineAsync(string workerId, DateTimeOffset until)
    {
        var key = RedisKeys.Worker(workerId);
        await Db.HashSetAsync(key, [new(WorkerFields.QuarantinedUntil, until.ToUnixTimeMilliseconds()), new(WorkerFields.ExpiredStreak, 0)]);
    }

    public async Task<IReadOnlyList<WorkerRecord>> ListAsync(DateTimeOffset now, TimeSpan silenceLimit)
    {
        var db = Db;
        var ids = await db.SetMembersAsync(RedisKeys.Workers);
        var hashes = await Task.WhenAll(ids.Select(id => db.HashGetAllAsync(RedisKeys.Worker(id!))));
        var records = new List<WorkerRecord>();
        foreach (var (id, entries) in ids.Zip(hashes))
        {
            if (entries.Length == 0)
            {
                _ = db.SetRemoveAsync(RedisKeys.Workers, id, CommandFlags.FireAndForget);
                continue;
            }

            records.Add(ToRecord(id!, entries, now, silenceLimit));
        }

        return [.. records.OrderBy(r => r.WorkerId, StringComparer.Ordinal)];
    }

    private static WorkerRecord ToRecord(string id, HashEntry[] entries, DateTimeOffset now, TimeSpan silenceLimit)
    {
        var fields = entries.ToDictionary(e => (string)e.Name!, e => e.Value, StringComparer.Ordinal);
        var lastHeartbeat = ToTime(fields.GetValueOrDefault(WorkerFields.LastHeartbeat));
        var quarantinedUntil = ToTime(fields.GetValueOrDefault(WorkerFields.QuarantinedUntil));
        var busy = (int)ToLong(fields.GetValueOrDefault(WorkerFields.Busy));
        var alive = ToLong(fields.GetValueOrDefault(WorkerFields.Connected)) == 1 && lastHeartbeat is { } seen && now - seen <= silenceLimit;
        var status = !alive ? WorkerStatuses.Disconnected
            : ToLong(fields.GetValueOrDefault(WorkerFields.Draining)) == 1 ? WorkerStatuses.Draining
            : quarantinedUntil is { } q && q > now ? WorkerStatuses.Quarantined
            : busy > 0 ? WorkerStatuses.Busy : WorkerStatuses.Idle;
        return new WorkerRecord(
            id,
            status,
            (string?)fields.GetValueOrDefault(WorkerFields.Broker) ?? "",
            List(fields.GetValueOrDefault(WorkerFields.Queues)),
            (int)ToLong(fields.GetValueOrDefault(WorkerFields.Slots)),
            busy,
            ToLong(fields.GetValueOrDefault(WorkerFields.Completed)),
            lastHeartbeat,
            quarantinedUntil)
        {
            StuckSlots = (int)ToLong(fields.GetValueOrDefault(WorkerFields.Stuck)),
            TaskTypes = List(fields.GetValueOrDefault(WorkerFields.Types)),
            RunningTasks = alive ? List(fields.GetValueOrDefault(WorkerFields.Running)) : [],
        };
    }

    private static string[] List(RedisValue value) => ((string?)value ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries);

    private static long ToLong(RedisValue value) =>
        long.TryParse((string?)value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static DateTimeOffset? ToTime(RedisValue value) =>
        ToLong(value) is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
}
