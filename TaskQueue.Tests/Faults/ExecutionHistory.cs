using System.Text.Json;
using TaskQueue.Worker;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Tests.Faults;

/// <summary>One handler run: a start line of a worker's execution log, paired with its end line if it has one.</summary>
internal sealed record Execution(
    string TaskId, string WorkerId, int Attempt, string LeaseToken, DateTimeOffset StartedAt, DateTimeOffset? EndedAt, string? Outcome)
{
    public bool IsRunningAt(DateTimeOffset moment) => StartedAt <= moment && (EndedAt is null || EndedAt > moment);
}

/// <summary>
/// What the handlers really ran, read from the execution logs (Worker:ExecutionLog) of every worker of a run:
/// evidence that does not depend on anything the broker recorded.
/// </summary>
internal sealed class ExecutionHistory
{
    // A run after one that reported a failure, timed out or was handed back by a drain is a rerun the broker was asked for.
    private static readonly HashSet<string> s_rerunAskedFor = new(StringComparer.Ordinal)
    {
        TaskOutcomes.Failed, TaskOutcomes.TimedOut, TaskOutcomes.Released,
    };

    private readonly Dictionary<string, List<Execution>> _byTask;

    private ExecutionHistory(List<Execution> executions)
    {
        Executions = executions;
        _byTask = executions
            .GroupBy(e => e.TaskId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(e => e.StartedAt).ToList(), StringComparer.Ordinal);
    }

    public IReadOnlyList<Execution> Executions { get; }

    /// <summary>Runs nobody asked for, over all tasks: see <see cref="Duplicates"/>.</summary>
    public int DuplicateExecutions => _byTask.Values.Sum(Duplicates);

    public static ExecutionHistory Read(string directory)
    {
        var starts = new Dictionary<(string Task, string Lease, string Worker), TaskExecutionRecord>();
        var ends = new Dictionary<(string Task, string Lease, string Worker), TaskExecutionRecord>();
        foreach (var file in Directory.Exists(directory) ? Directory.EnumerateFiles(directory, "*.jsonl") : [])
        {
            foreach (var record in ReadFile(file))
            {
                var key = (record.TaskId, record.LeaseToken, record.WorkerId);
                (record.Event == TaskExecutionRecord.Start ? starts : ends)[key] = record;
            }
        }

        return new ExecutionHistory([.. starts.Select(pair =>
        {
            var end = ends.GetValueOrDefault(pair.Key);
            var start = pair.Value;
            return new Execution(start.TaskId, start.WorkerId, start.Attempt, start.LeaseToken, start.At, end?.At, end?.Outcome);
        })]);
    }

    public IReadOnlyList<Execution> Of(string taskId) => _byTask.TryGetValue(taskId, out var runs) ? runs : [];

    /// <summary>
    /// Runs of one task beyond the first that nobody asked for: each run after the first counts unless an
    /// earlier run reported a failure or was handed back. A run after one that was killed, frozen, lost its
    /// lease or even completed is a duplicate execution.
    /// </summary>
    public static int Duplicates(IReadOnlyList<Execution> runs) =>
        runs.Count <= 1 ? 0 : runs.Count - 1 - runs.Take(runs.Count - 1).Count(r => r.Outcome is { } outcome && s_rerunAskedFor.Contains(outcome));

    public int DuplicatesAmong(IEnumerable<string> taskIds) => taskIds.Sum(id => Duplicates(Of(id)));

    /// <summary>What the worker was running at that moment.</summary>
    public IReadOnlyList<Execution> RunningOn(string workerId, DateTimeOffset moment) =>
        [.. Executions.Where(e => e.WorkerId == workerId && e.IsRunningAt(moment))];

    /// <summary>For each task the worker was running when the fault hit, how long until another worker started it.</summary>
    public IEnumerable<TimeSpan> RedispatchDelays(string workerId, DateTimeOffset faultAt) =>
        RunningOn(workerId, faultAt)
            .Select(victim => Of(victim.TaskId).FirstOrDefault(e => e.WorkerId != workerId && e.StartedAt > faultAt))
            .OfType<Execution>()
            .Select(next => next.StartedAt - faultAt);

    private static IEnumerable<TaskExecutionRecord> ReadFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var lines = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var records = new List<TaskExecutionRecord>(lines.Length);
        foreach (var line in lines)
        {
            try
            {
                records.Add(JsonSerializer.Deserialize<TaskExecutionRecord>(line, JsonSerializerOptions.Web)!);
            }
            catch (JsonException) when (ReferenceEquals(line, lines[^1]))
            {
                // A line being written right now: the next read sees it whole.
            }
        }

        return records;
    }
}
