namespace TaskQueue.Broker.Storage;

/// <summary>The fields of a schedule's hash (<see cref="RedisKeys.Schedule"/>), as Scripts/lib/schedule.lua lists them.</summary>
public static class ScheduleFields
{
    public const string Name = "name";
    public const string Cron = "cron";
    public const string TimeZone = "tz";
    public const string Type = "type";
    public const string Payload = "payload";
    public const string Priority = "prio";
    public const string MaxAttempts = "max";
    public const string Timeout = "timeout";
    public const string Expires = "expires";
    public const string Group = "group";
    public const string Overlap = "overlap";
    public const string CatchUp = "catchup";
    public const string CatchUpMax = "catchup_max";
    public const string Version = "version";
    public const string Next = "next";
    public const string Last = "last";
    public const string LastTask = "last_task";
    public const string Paused = "paused";
    public const string Buffered = "buffered";
    public const string BufferedId = "buffered_id";
    public const string Fired = "fired";
    public const string Skipped = "skipped";
    public const string Missed = "missed";
    public const string Created = "created";
    public const string Updated = "updated";

    /// <summary>Every field, in lib/schedule.lua's order.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Name, Cron, TimeZone, Type, Payload, Priority, MaxAttempts, Timeout, Expires, Group, Overlap, CatchUp, CatchUpMax, Version, Next, Last,
        LastTask, Paused, Buffered, BufferedId, Fired, Skipped, Missed, Created, Updated,
    ];
}
