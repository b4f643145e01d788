using System.CommandLine;
using System.Text;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary>
/// The first-run demo the AppHost starts: 1,000 tasks of mixed types — quick echoes, short sleeps, CPU
/// work, some that fail once or twice and then succeed, and one that always fails and dead-letters —
/// then waits for all of them and reports the outcome.
/// </summary>
internal static class DemoCommand
{
    private const int Total = 1000;

    public static Command Create(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var command = new Command("demo", "Submit a mixed 1,000-task demo load (some retry, one dead-letters), wait, report.") { queue };
        command.SetAction((parseResult, cancellationToken) =>
            host.RunAsync(parseResult, (cli, token) => RunAsync(cli, parseResult.GetRequiredValue(queue), token), cancellationToken));
        return command;
    }

    internal static IReadOnlyList<TaskRequest> BuildLoad(string queue)
    {
        var random = new Random(42);
        var tasks = new List<TaskRequest>(Total);
        for (var i = 0; i < Total - 1; i++)
        {
            tasks.Add((i % 20) switch
            {
                < 10 => Request(queue, "echo", $"hello {i}"),
                < 15 => Request(queue, "sleep", random.Next(5, 100).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                < 19 => Request(queue, "cpu", "2000"),
                _ => Request(queue, "fail", (1 + (i / 20 % 2)).ToString(System.Globalization.CultureInfo.InvariantCulture)) with { MaxAttempts = 5 },
            });
        }

        tasks.Add(Request(queue, "fail", "1000") with { MaxAttempts = 3 });
        return tasks;
    }

    private static TaskRequest Request(string queue, string type, string payload) =>
        new() { Queue = queue, Type = type, Payload = Encoding.UTF8.GetBytes(payload) };

    private static async Task<int> RunAsync(CliContext cli, string queue, CancellationToken cancellationToken)
    {
        var started = cli.TimeProvider.GetTimestamp();
        var load = BuildLoad(queue);
        var submitted = await cli.Client.SubmitBatchAsync(load, cancellationToken);
        await cli.Output.WriteLineAsync($"demo: submitted {submitted.Count} tasks to '{queue}' (echo, sleep, cpu, fail-then-succeed, one poison)");

        var deadline = cli.TimeProvider.GetTimestamp() + (long)(TimeSpan.FromMinutes(5).TotalSeconds * cli.TimeProvider.TimestampFrequency);
        var states = new TaskState?[submitted.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, submitted.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancellationToken },
            async (i, token) => states[i] = await LoadCommand.WaitForFinalAsync(cli, submitted[i].TaskId, deadline, token));

        var elapsed = cli.TimeProvider.GetElapsedTime(started);
        var completed = states.Count(s => s == TaskState.Completed);
        var dead = states.Count(s => s == TaskState.DeadLettered);
        var stats = await cli.Client.GetQueueStatsAsync(queue, cancellationToken);
        await cli.Output.WriteLineAsync(
            $"demo: {completed} completed, {dead} dead-lettered, {states.Length - completed - dead} other, " +
            $"{stats.Retried} retries in the queue so far; {Formatting.Number(elapsed.TotalSeconds)} s");
        var asExpected = completed == Total - 1 && dead == 1;
        await cli.Output.WriteLineAsync(asExpected
            ? "demo: every task reached the outcome it was built for (the poison task is in the dead-letter queue: `dlq list`)."
            : "demo: some tasks did not reach their expected outcome.");
        return asExpected ? CliHost.ExitOk : CliHost.ExitNotCompleted;
    }
}
