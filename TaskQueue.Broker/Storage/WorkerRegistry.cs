using System.Globalization;
using StackExchange.Redis;

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

    /// <summary>Connected and heartbeating (not disconnected, not silent); it may still be quarantined.</summary>
    public bool IsAlive => Status != WorkerStatuses.Disconnected;

    /// <summary>Whether it runs tasks of <paramref name="type"/>.</summary>
    public bool Handles(string type) => TaskTypes.Count == 0 || TaskTypes.Contains(type, StringComparer.Ordinal);
}

/// <summary>
/// The worker registry in Redis, shared by all brokers: a hash per worker (kept a day after it was last
/// seen) and a set of worker ids. Lease expiries are counted per worker here, because the broker that
/// reaps a lease is not always the one the worker is connected to.
/// </summary>
public sealed class WorkerRegistry(IConnectionMultiplexer redis)
{
    private static readonly TimeSpan s_keep = TimeSpan.FromDays(1);

    private IDatabase Db => redis.GetDatabase();

    /// <summary>
    /// Records a heartbeat (with its stuck slots, and at registration, <paramref name="connectedAt"/> set, the task types of
    /// the worker's Hello). Returns the worker's run of consecutive lease expiries (reset to zero when
    /// it completed something since the last heartbeat) and its quarantine deadline.
    /// </summary>
    public async Task<(long ExpiredStreak, DateTimeOffset? QuarantinedUntil)> HeartbeatAsync(
        string workerId, string broker, IReadOnlyList<string> queues, int slots, int busy, long completedDelta,
        bool connected, DateTimeOffset now, DateTimeOffset? connectedAt = null, int stuckSlots = 0, IReadOnlyList<string>? taskTypes = null)
    {
        var key = RedisKeys.Worker(workerId);
        var batch = Db.CreateBatch();
        _ = batch.SetAddAsync(RedisKeys.Workers, workerId);
        _ = batch.HashSetAsync(key,
        [
            new(WorkerFields.Broker, broker), new(WorkerFields.Queues, string.Join(',', queues)),
            new(WorkerFields.Slots, slots), new(WorkerFields.Busy, busy),
            new(WorkerFields.LastHeartbeat, now.ToUnixTimeMilliseconds()), new(WorkerFields.Connected, connected ? 1 : 0),
            new(WorkerFields.Stuck, stuckSlots),
        ]);
        if (taskTypes is not null)
        {
            _ = batch.HashSetAsync(key, WorkerFields.Types, string.Join(',', taskTypes));
        }

        if (connectedAt is { } since)
        {
            _ = batch.HashSetAsync(key, WorkerFields.ConnectedAt, since.ToUnixTimeMilliseconds());
        }

        if (completedDelta > 0)
        {
            _ = batch.HashIncrementAsync(key, WorkerFields.Completed, completedDelta);
            _ = batch.HashSetAsync(key, WorkerFields.ExpiredStreak, 0);
        }

        _ = batch.KeyExpireAsync(key, s_keep);
        var read = batch.HashGetAsync(key, [WorkerFields.ExpiredStreak, WorkerFields.QuarantinedUntil]);
        batch.Execute();
        var values = await read;
        return (ToLong(values[0]), ToTime(values[1]));
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

            var fields = entries.ToDictionary(e => (string)e.Name!, e => e.Value, StringComparer.Ordinal);
            var lastHeartbeat = ToTime(fields.GetValueOrDefault(WorkerFields.LastHeartbeat));
            var quarantinedUntil = ToTime(fields.GetValueOrDefault(WorkerFields.QuarantinedUntil));
            var busy = (int)ToLong(fields.GetValueOrDefault(WorkerFields.Busy));
            var alive = ToLong(fields.GetValueOrDefault(WorkerFields.Connected)) == 1 && lastHeartbeat is { } seen && now - seen <= silenceLimit;
            var status = !alive ? WorkerStatuses.Disconnected
                : quarantinedUntil is { } q && q > now ? WorkerStatuses.Quarantined
                : busy > 0 ? WorkerStatuses.Busy : WorkerStatuses.Idle;
            records.Add(new WorkerRecord(
                id!,
                status,
                (string?)fields.GetValueOrDefault(WorkerFields.Broker) ?? "",
                ((string?)fields.GetValueOrDefault(WorkerFields.Queues) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries),
                (int)ToLong(fields.GetValueOrDefault(WorkerFields.Slots)),
                busy,
                ToLong(fields.GetValueOrDefault(WorkerFields.Completed)),
                lastHeartbeat,
                quarantinedUntil)
            {
                StuckSlots = (int)ToLong(fields.GetValueOrDefault(WorkerFields.Stuck)),
                TaskTypes = ((string?)fields.GetValueOrDefault(WorkerFields.Types) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries),
            });
        }

        return [.. records.OrderBy(r => r.WorkerId, StringComparer.Ordinal)];
    }

    private static long ToLong(RedisValue value) =>
        long.TryParse((string?)value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static DateTimeOffset? ToTime(RedisValue value) =>
        ToLong(value) is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
}
