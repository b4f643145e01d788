using Cronos;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>
/// A schedule's next runs as the broker computes its slots: Cronos, 5 fields or 6 with seconds first, in the schedule's
/// IANA time zone (empty: UTC), starting from the broker's own next run (so a paused schedule shows none).
/// </summary>
public static class ScheduleRuns
{
    public static IReadOnlyList<DateTimeOffset> Next(string cron, string? timeZone, DateTimeOffset? nextRun, int count)
    {
        if (nextRun is not { } first || count < 1)
        {
            return [];
        }

        var runs = new List<DateTimeOffset> { first };
        var text = cron.Trim();
        try
        {
            var format = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard;
            var expression = CronExpression.Parse(text, format);
            var zone = string.IsNullOrEmpty(timeZone) ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone);
            while (runs.Count < count && expression.GetNextOccurrence(runs[^1].UtcDateTime, zone, inclusive: false) is { } next)
            {
                runs.Add(new DateTimeOffset(next));
            }
        }
        catch (Exception ex) when (ex is CronFormatException or TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            // The broker accepted it; a dashboard host without that zone shows the broker's next run only.
        }

        return runs;
    }
}
