using System.Globalization;
using System.Text;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// The independent account of one fault run: what clients were told (acknowledged submits), what Redis holds at
/// the end (every task of the run's queue, and its counters), and what the handlers really ran (their
/// execution logs).
/// </summary>
internal sealed record FaultLedger
{
    public required string Scenario { get; init; }

    public required TimeSpan Elapsed { get; init; }

    public int Submitted { get; init; }

    public int Acknowledged { get; init; }

    /// <summary>Refused submits by status code.</summary>
    public IReadOnlyDictionary<string, int> Refused { get; init; } = new Dictionary<string, int>();

    /// <summary>Refused submits whose task Redis holds all the same (the call failed after the write).</summary>
    public int StoredThoughRefused { get; init; }

    /// <summary>Tasks of the queue that completed.</summary>
    public int Completed { get; init; }

    /// <summary>Acknowledged, but neither completed nor dead-lettered (or not in Redis at all).</summary>
    public int Lost { get; init; }

    public IReadOnlyList<string> LostExamples { get; init; } = [];

    public int DeadLettered { get; init; }

    public int Executions { get; init; }

    public int DuplicateExecutions { get; init; }

    /// <summary>Completions the broker counted beyond one per completed task.</summary>
    public long DuplicateCompletionsRecorded { get; init; }

    public long StaleRejected { get; init; }

    /// <summary>Failures the broker recorded: lease expiries and failures handlers reported.</summary>
    public long FailuresRecorded { get; init; }

    public IReadOnlyDictionary<string, int> Faults { get; init; } = new Dictionary<string, int>();

    /// <summary>By kind of fault: from the fault to the moment another worker started each task the victim was running.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<TimeSpan>> RedispatchByFault { get; init; } = new Dictionary<string, IReadOnlyList<TimeSpan>>();

    public IReadOnlyList<TimeSpan> Redispatch => [.. RedispatchByFault.Values.SelectMany(delays => delays)];

    /// <summary>From the end of a fault (a restart, a thaw) to the next acknowledged submit.</summary>
    public IReadOnlyList<TimeSpan> Recovery { get; init; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> Notes { get; init; } = [];
}

/// <summary>Ledgers as Markdown tables: one per scenario, and a summary row per scenario.</summary>
internal static class LedgerTable
{
    public static string Format(FaultLedger ledger)
    {
        var rows = new List<(string, string)>
        {
            ("tasks submitted", N(ledger.Submitted)),
            ("submits acknowledged", N(ledger.Acknowledged)),
            ("submits refused", ledger.Refused.Count == 0 ? "0" : string.Join(", ", ledger.Refused.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{N(r.Value)} {r.Key}"))),
            ("refused but stored anyway", N(ledger.StoredThoughRefused)),
            ("completed", N(ledger.Completed)),
            ("LOST", N(ledger.Lost) + (ledger.LostExamples.Count > 0 ? $" (e.g. {string.Join("; ", ledger.LostExamples)})" : "")),
            ("dead-lettered", N(ledger.DeadLettered)),
            ("handler executions", N(ledger.Executions)),
            ("duplicate executions", N(ledger.DuplicateExecutions)),
            ("duplicate completions recorded", N(ledger.DuplicateCompletionsRecorded)),
            ("stale reports rejected", N(ledger.StaleRejected)),
            ("failures recorded (incl. lease expiries)", N(ledger.FailuresRecorded)),
            ("faults injected", ledger.Faults.Count == 0 ? "none" : string.Join(", ", ledger.Faults.Select(f => $"{f.Value} × {f.Key}"))),
            ("redispatch after a fault p50 / p99", Percentiles(ledger.Redispatch)),
            ("recovery after a fault ended p50 / max", Recovery(ledger.Recovery)),
        };
        if (ledger.RedispatchByFault.Count > 1)
        {
            rows.InsertRange(rows.Count - 1, ledger.RedispatchByFault.Select(kind => ($"… after {kind.Key}", Percentiles(kind.Value))));
        }

        rows.AddRange(ledger.Notes.Select(note => (note.Key, note.Value)));

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"#### {ledger.Scenario} ({ledger.Elapsed.TotalSeconds:F0} s)");
        text.AppendLine("| measure | value |");
        text.AppendLine("| --- | --- |");
        foreach (var (measure, value) in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {measure} | {value} |");
        }

        return text.ToString();
    }

    public static string Summary(IEnumerable<FaultLedger> ledgers)
    {
        var text = new StringBuilder();
        text.AppendLine("#### Fault campaign: summary");
        text.AppendLine("| scenario | s | acked | completed | LOST | dup. exec. | dup. recorded | stale rejected | dead | redispatch p50 / p99 | faults |");
        text.AppendLine("| --- | --: | --: | --: | --: | --: | --: | --: | --: | --- | --- |");
        foreach (var l in ledgers)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {l.Scenario} | {l.Elapsed.TotalSeconds:F0} | {N(l.Acknowledged)} | {N(l.Completed)} | {N(l.Lost)} | {N(l.DuplicateExecutions)} | {N(l.DuplicateCompletionsRecorded)} | {N(l.StaleRejected)} | {N(l.DeadLettered)} | {Percentiles(l.Redispatch)} | {l.Faults.Values.Sum()} |");
        }

        return text.ToString();
    }

    private static string Percentiles(IReadOnlyList<TimeSpan> samples) =>
        samples.Count == 0 ? "–" : $"{Ms(Percentile(samples, 0.50))} / {Ms(Percentile(samples, 0.99))} (n={samples.Count})";

    private static string Recovery(IReadOnlyList<TimeSpan> samples) =>
        samples.Count == 0 ? "–" : $"{Ms(Percentile(samples, 0.50))} / {Ms(samples.Max())} (n={samples.Count})";

    /// <summary>Nearest rank.</summary>
    private static TimeSpan Percentile(IReadOnlyList<TimeSpan> samples, double quantile)
    {
        var sorted = samples.Order().ToList();
        var rank = (int)Math.Ceiling(quantile * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static string Ms(TimeSpan value) => $"{value.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture)} ms";

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
