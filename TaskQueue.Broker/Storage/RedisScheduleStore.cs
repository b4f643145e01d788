using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Schedules;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Schedules in Redis: one script per change (Scripts/schedule_*.lua), each in the slot of the schedule's queue, timed
/// by Redis's clock, every change of where a schedule stands a compare-and-set on its version and next slot.
/// </summary>
public sealed class RedisScheduleStore(IConnectionMultiplexer redis, IOptions<TaskStoreOptions> options, RedisClockShift clockShift)
{
    private readonly TaskStoreOptions _options = options.Value;

    private IDatabase Db => redis.GetDatabase();

    private long Shift => (long)clockShift.Value.TotalMilliseconds;

    public TaskStoreOptions Options => _options;

    /// <summary>The queues with schedules whose visit is due (Redis time), at most <paramref name="max"/>, and when the next falls due.</summary>
    public async Task<DueQueues> GetDueQueuesAsync(int max, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(max, 1);
        cancellationToken.ThrowIfCancellationRequested();
        return await DueIndexes.ReadAsync(Db, await RedisKeySpace.Of(redis).ScheduleIndexesAsync(), Shift, max);
    }

    /// <summary>Every queue that holds a schedule, in name order.</summary>
    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var db = Db;
        var indexes = await RedisKeySpace.Of(redis).ScheduleIndexesAsync();
        var queues = await Task.WhenAll(indexes.Select(index => db.SortedSetRangeByRankAsync(index)));
        return [.. queues.SelectMany(q => q).Select(q => (string)q!).Order(StringComparer.Ordinal)];
    }

    /// <summary>The named schedules that exist, with Redis's clock.</summary>
    public async Task<ScheduleRead> ReadAsync(string queue, IReadOnlyList<string> names, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Parse(queue, await ReadRawAsync(queue, ["names", .. names.Select(n => (RedisValue)n)]));
    }

    /// <summary>Every schedule of the queue, in name order, with Redis's clock.</summary>
    public async Task<ScheduleRead> ReadAllAsync(string queue, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Parse(queue, await ReadRawAsync(queue, ["all"]));
    }

    /// <summary>The queue's schedules whose visit is due (Redis time), at most <paramref name="max"/>, without their payloads.</summary>
    public async Task<DueSchedules> ReadDueAsync(string queue, int max, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = await ReadRawAsync(queue, ["due", max]);
        var due = new List<DueSchedule>(reply.Length - 1);
        foreach (var (name, _, fields) in Entries(reply))
        {
            due.Add(new DueSchedule(
                name,
                Long(fields, ScheduleFields.Version),
                Long(fields, ScheduleFields.Next),
                Text(fields, ScheduleFields.Cron),
                Text(fields, ScheduleFields.TimeZone),
                ParseCatchUp(Text(fields, ScheduleFields.CatchUp)),
                (int)Long(fields, ScheduleFields.CatchUpMax, ScheduleValidation.DefaultCatchUpMax)));
        }

        return new DueSchedules((long)reply[0], due);
    }

    /// <summary>
    /// Stores <paramref name="definition"/> if the stored version is still <paramref name="expectedVersion"/> (0: none);
    /// <paramref name="nextMs"/> is its next slot (-1: none), computed from what was read. See schedule_upsert.lua.
    /// </summary>
    public async Task<UpsertScriptResult> UpsertAsync(
        ScheduleDefinition definition, long expectedVersion, long nextMs, int maxSchedules, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var t = definition.Template;
        RedisValue[] args =
        [
            Shift, definition.Name, expectedVersion, nextMs, maxSchedules,
            ScheduleFields.Cron, definition.Cron.Trim(),
            ScheduleFields.TimeZone, definition.TimeZone,
            ScheduleFields.Type, t.Type,
            ScheduleFields.Payload, t.Payload,
            ScheduleFields.Priority, t.Priority,
            ScheduleFields.MaxAttempts, t.MaxAttempts ?? _options.DefaultMaxAttempts,
            ScheduleFields.Timeout, Millis(t.ExecutionTimeout),
            ScheduleFields.Expires, Millis(t.ExpiresAfter),
            ScheduleFields.Group, t.Group,
            ScheduleFields.Overlap, OverlapText(definition.Overlap),
            ScheduleFields.CatchUp, CatchUpText(definition.CatchUp),
            ScheduleFields.CatchUpMax, definition.CatchUpMax,
        ];
        // In a cluster the scheduler reads the schedule indexes of the slots tq:slots lists: the queue's slot joins it first.
        await RedisKeySpace.Of(redis).AddSlotsAsync([definition.Queue]);
        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Get("schedule_upsert"), Prefix(definition.Queue), args))!;
        return new UpsertScriptResult((int)reply[0], (long)reply[1]);
    }

    /// <summary>Fires the planned slots of one schedule (see schedule_fire.lua); null slots of <paramref name="plan"/>: none after it.</summary>
    public async Task<FireResult> FireAsync(
        string queue, DueSchedule schedule, SlotPlan plan, TimeSpan recheck, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var args = new List<RedisValue>(7 + (2 * plan.Fire.Count))
        {
            Shift, schedule.Name, schedule.Version, schedule.NextMs, plan.Next ?? -1, (long)recheck.TotalMilliseconds, plan.Dropped,
        };
        foreach (var slot in plan.Fire)
        {
            args.Add(slot);
            args.Add(SlotTaskId.For(queue, schedule.Name, slot).LocalId);
        }

        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Get("schedule_fire"), Prefix(queue), [.. args]))!;
        return new FireResult(
            (int)reply[0], (int)reply[1], (int)reply[2], [.. reply.Skip(3).Select(r => new TaskId(queue, (string)r!))]);
    }

    /// <summary>Pauses a schedule. Returns false when there is no such schedule.</summary>
    public async Task<bool> PauseAsync(string queue, string name, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Get("schedule_pause"), Prefix(queue), [Shift, name, "1", 0, -1]))!;
        return (int)reply[0] != ScheduleCodes.Missing;
    }

    /// <summary>Resumes a schedule read at <paramref name="expectedVersion"/> at slot <paramref name="nextMs"/>: the script's code (OK, STALE, MISSING).</summary>
    public async Task<int> ResumeAsync(string queue, string name, long expectedVersion, long nextMs, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(
            ScriptLibrary.Get("schedule_pause"), Prefix(queue), [Shift, name, "0", expectedVersion, nextMs]))!;
        return (int)reply[0];
    }

    /// <summary>Creates the schedule's task <paramref name="id"/> now: the script's code (OK, MISSING, or unregistered queue).</summary>
    public async Task<int> TriggerAsync(TaskId id, string name, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Get("schedule_trigger"), Prefix(id.Queue), [Shift, name, id.LocalId]))!;
        return (int)reply[0];
    }

    /// <summary>Deletes a schedule; false when there was none.</summary>
    public async Task<bool> DeleteAsync(string queue, string name, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var reply = await Db.RunScriptAsync(ScriptLibrary.Get("schedule_delete"), Prefix(queue), [name]);
        return (int)reply == ScheduleCodes.Ok;
    }

    internal static string OverlapText(OverlapPolicy policy) => policy switch
    {
        OverlapPolicy.Skip => "skip",
        OverlapPolicy.QueueOne => "queue-one",
        _ => "allow",
    };

    internal static string CatchUpText(CatchUpPolicy policy) => policy switch
    {
        CatchUpPolicy.Skip => "skip",
        CatchUpPolicy.All => "all",
        _ => "one",
    };

    private static OverlapPolicy ParseOverlap(string? text) => text switch
    {
        "skip" => OverlapPolicy.Skip,
        "queue-one" => OverlapPolicy.QueueOne,
        _ => OverlapPolicy.Allow,
    };

    private static CatchUpPolicy ParseCatchUp(string? text) => text switch
    {
        "skip" => CatchUpPolicy.Skip,
        "all" => CatchUpPolicy.All,
        _ => CatchUpPolicy.One,
    };

    private async Task<RedisResult[]> ReadRawAsync(string queue, RedisValue[] what) =>
        (RedisResult[])(await Db.RunScriptAsync(ScriptLibrary.Get("schedule_read"), Prefix(queue), [Shift, .. what]))!;

    private static ScheduleRead Parse(string queue, RedisResult[] reply)
    {
        var schedules = new List<ScheduleSnapshot>(reply.Length - 1);
        foreach (var (name, lastState, fields) in Entries(reply))
        {
            schedules.Add(ToSnapshot(queue, name, lastState, fields));
        }

        return new ScheduleRead((long)reply[0], schedules);
    }

    private static IEnumerable<(string Name, string LastState, Dictionary<string, RedisValue> Fields)> Entries(RedisResult[] reply)
    {
        foreach (var item in reply.Skip(1))
        {
            var entry = (RedisResult[])item!;
            var fields = new Dictionary<string, RedisValue>(entry.Length / 2, StringComparer.Ordinal);
            for (var i = 2; i + 1 < entry.Length; i += 2)
            {
                fields[(string)entry[i]!] = (RedisValue)entry[i + 1];
            }

            yield return ((string)entry[0]!, (string?)entry[1] ?? "", fields);
        }
    }

    private static ScheduleSnapshot ToSnapshot(string queue, string name, string lastState, Dictionary<string, RedisValue> f)
    {
        string Text(string field) => RedisScheduleStore.Text(f, field);
        var timeout = Long(f, ScheduleFields.Timeout);
        var expires = Long(f, ScheduleFields.Expires);
        var template = new ScheduleTemplate(Text(ScheduleFields.Type), f.TryGetValue(ScheduleFields.Payload, out var p) ? (byte[])p! ?? [] : [])
        {
            Priority = (int)Long(f, ScheduleFields.Priority),
            MaxAttempts = (int)Long(f, ScheduleFields.MaxAttempts),
            ExecutionTimeout = timeout > 0 ? TimeSpan.FromMilliseconds(timeout) : null,
            ExpiresAfter = expires > 0 ? TimeSpan.FromMilliseconds(expires) : null,
            Group = Text(ScheduleFields.Group),
        };
        var definition = new ScheduleDefinition(queue, name, Text(ScheduleFields.Cron), Text(ScheduleFields.TimeZone), template)
        {
            Overlap = ParseOverlap(Text(ScheduleFields.Overlap)),
            CatchUp = ParseCatchUp(Text(ScheduleFields.CatchUp)),
            CatchUpMax = (int)Long(f, ScheduleFields.CatchUpMax, ScheduleValidation.DefaultCatchUpMax),
        };
        var paused = Text(ScheduleFields.Paused) == "1";
        var next = Long(f, ScheduleFields.Next, -1);
        var last = Long(f, ScheduleFields.Last);
        var buffered = Long(f, ScheduleFields.Buffered);
        var lastTask = Text(ScheduleFields.LastTask);
        return new ScheduleSnapshot(definition)
        {
            Version = Long(f, ScheduleFields.Version),
            Paused = paused,
            NextRun = paused || next < 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(next),
            LastRun = last > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(last) : null,
            LastTaskId = lastTask.Length > 0 ? new TaskId(queue, lastTask) : null,
            LastTaskState = lastState.Length > 0 ? ScriptCodes.ToState(lastState) : null,
            BufferedRun = buffered > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(buffered) : null,
            Fired = Long(f, ScheduleFields.Fired),
            Skipped = Long(f, ScheduleFields.Skipped),
            Missed = Long(f, ScheduleFields.Missed),
            CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(f, ScheduleFields.Created)),
            UpdatedAt = DateTimeOffset.FromUnixTimeMilliseconds(Long(f, ScheduleFields.Updated)),
        };
    }

    private static long Long(Dictionary<string, RedisValue> fields, string field, long absent = 0) =>
        fields.TryGetValue(field, out var value) && !value.IsNull && long.TryParse((string)value!, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
            ? n
            : absent;

    private static string Text(Dictionary<string, RedisValue> fields, string field) =>
        fields.TryGetValue(field, out var value) && !value.IsNull ? (string)value! : "";

    private static long Millis(TimeSpan? span) => span is { } s ? (long)s.TotalMilliseconds : 0;

    private RedisKey[] Prefix(string queue) => RedisKeySpace.Of(redis).ScriptKeys(queue);
}

/// <summary>Schedules as read, with Redis's clock (ms) at the read.</summary>
public sealed record ScheduleRead(long NowMs, IReadOnlyList<ScheduleSnapshot> Schedules);

/// <summary>What a visit needs of a due schedule: its compare-and-set values and how to plan its slots.</summary>
public sealed record DueSchedule(string Name, long Version, long NextMs, string Cron, string TimeZone, CatchUpPolicy CatchUp, int CatchUpMax);

/// <summary>A queue's due schedules, with Redis's clock (ms) at the read.</summary>
public sealed record DueSchedules(long NowMs, IReadOnlyList<DueSchedule> Schedules);

/// <summary>The schedule scripts' return codes (Scripts/lib/common.lua and lib/schedule.lua).</summary>
public static class ScheduleCodes
{
    public const int Ok = 1;

    /// <summary>The version or next slot moved since the read: read again.</summary>
    public const int Stale = 0;

    /// <summary>No such schedule.</summary>
    public const int Missing = -1;

    /// <summary>The registry does not hold the queue (forgotten while empty): register it and call again.</summary>
    public const int Unregistered = -2;

    /// <summary>The queue holds the most schedules already.</summary>
    public const int LimitReached = -3;

    // schedule_upsert.lua's outcomes.
    public const int Updated = 1;
    public const int Created = 2;
    public const int Unchanged = 3;
}

/// <summary>schedule_upsert.lua's reply: its outcome code (<see cref="ScheduleCodes"/>) and the version after it.</summary>
public sealed record UpsertScriptResult(int Code, long Version);

/// <summary>schedule_fire.lua's reply: its code, the tasks it created and the slots the overlap policy skipped.</summary>
public sealed record FireResult(int Code, int Fired, int Skipped, IReadOnlyList<TaskId> Created);
