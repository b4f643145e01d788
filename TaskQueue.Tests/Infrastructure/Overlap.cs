namespace TaskQueue.Tests.Infrastructure;

/// <summary>How many intervals overlap at most: the peak of leases, executions or slots held at one moment.</summary>
internal static class Overlap
{
    /// <summary>The most intervals [start, end) that overlap at one moment (an end at the instant of a start frees its slot first).</summary>
    public static int Peak(IEnumerable<(DateTimeOffset Start, DateTimeOffset End)> intervals)
    {
        var events = intervals
            .SelectMany(i => new[] { (At: i.Start, Delta: 1), (At: i.End, Delta: -1) })
            .OrderBy(e => e.At)
            .ThenBy(e => e.Delta);
        int held = 0, peak = 0;
        foreach (var (_, delta) in events)
        {
            held += delta;
            peak = Math.Max(peak, held);
        }

        return peak;
    }

    /// <summary>The most of these tasks leased at one moment, from Redis's start and finish times (each must have both).</summary>
    public static int PeakLeased(IEnumerable<Broker.Storage.TaskSnapshot> tasks) =>
        Peak(tasks.Select(t => (t.StartedAt!.Value, t.FinishedAt!.Value)));
}
