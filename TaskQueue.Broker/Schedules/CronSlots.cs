using Cronos;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>
/// A schedule's slots: the instants its cron expression names in its time zone, computed with Cronos (5 fields, or 6
/// with seconds first). DST-correct as Cronos is: on a spring-forward day a wall-clock time that does not exist runs
/// at the instant the clocks jump (once); on a fall-back day a time that occurs twice runs at its first occurrence,
/// and expressions with a seconds/minutes/hours step (every N) run in both hours, as the wall clock repeats them.
/// Slots are whole Unix milliseconds (Redis's clock in the scripts).
/// </summary>
public sealed class CronSlots
{
    private readonly CronExpression _expression;

    private CronSlots(string expression, CronExpression parsed, TimeZoneInfo zone)
    {
        Expression = expression;
        _expression = parsed;
        Zone = zone;
    }

    /// <summary>The expression as given.</summary>
    public string Expression { get; }

    public TimeZoneInfo Zone { get; }

    /// <summary>
    /// Parses <paramref name="expression"/> (5 fields, or 6 with seconds) in the IANA <paramref name="timeZone"/> (empty: UTC).
    /// Throws <see cref="TaskValidationException"/> naming what is wrong.
    /// </summary>
    public static CronSlots Parse(string expression, string timeZone)
    {
        var text = (expression ?? "").Trim();
        var fields = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        if (fields is not (5 or 6))
        {
            throw new TaskValidationException("cron", $"A cron expression has 5 fields (minute hour day month weekday) or 6 (seconds first), not {fields}.");
        }

        CronExpression parsed;
        try
        {
            parsed = CronExpression.Parse(text, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException ex)
        {
            throw new TaskValidationException("cron", $"'{Quote(text)}' is not a cron expression: {ex.Message}");
        }

        return new CronSlots(text, parsed, FindZone(timeZone));
    }

    /// <summary>The time zone with IANA id <paramref name="timeZone"/> (empty: UTC).</summary>
    public static TimeZoneInfo FindZone(string? timeZone)
    {
        if (string.IsNullOrEmpty(timeZone))
        {
            return TimeZoneInfo.Utc;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new TaskValidationException("time_zone", $"'{Quote(timeZone)}' is not a time zone id this broker knows (an IANA id such as \"Europe/Berlin\").");
        }
    }

    /// <summary>The first slot at or after <paramref name="fromMs"/> (Unix ms); null when the expression names no later instant.</summary>
    public long? NextAtOrAfter(long fromMs)
    {
        var from = DateTimeOffset.FromUnixTimeMilliseconds(fromMs).UtcDateTime;
        var next = _expression.GetNextOccurrence(from, Zone, inclusive: true);
        return next is { } at ? new DateTimeOffset(at).ToUnixTimeMilliseconds() : null;
    }

    /// <summary>The first slot strictly after <paramref name="afterMs"/>.</summary>
    public long? NextAfter(long afterMs) => NextAtOrAfter(afterMs + 1);

    /// <summary>The slots in [<paramref name="fromMs"/>, <paramref name="toMs"/>], earliest first (lazy).</summary>
    public IEnumerable<long> Between(long fromMs, long toMs)
    {
        for (var slot = NextAtOrAfter(fromMs); slot is { } s && s <= toMs; slot = NextAfter(s))
        {
            yield return s;
        }
    }

    private static string Quote(string text) => text.Length > 80 ? text[..80] + "…" : text;
}
