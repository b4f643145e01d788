using System.CommandLine;
using System.Text;
using Microsoft.Extensions.Configuration;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary>
/// Submits N tasks in batches, waits until all are final (server-side waits with bounded concurrency, not
/// N sequential waits) with a progress bar on stderr, then prints counts and throughput.
/// </summary>
internal static class LoadCommand
{
    private static readonly TimeSpan WaitSlice = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    public static Command Create(CliHost host)
    {
        var count = new Option<int>("--count", "-n") { Description = "Tasks to submit.", DefaultValueFactory = _ => 1000 };
        var type = new Option<string>("--type", "-t") { Description = "Task type.", DefaultValueFactory = _ => "echo" };
        var payload = new Option<string>("--payload", "-p") { Description = "Payload of every task (UTF-8).", DefaultValueFactory = _ => "x" };
        var queue = TaskQueueCli.QueueOption();
        var batch = new Option<int>("--batch") { Description = "Tasks per SubmitBatch call.", DefaultValueFactory = _ => 500 };
        var parallel = new Option<int>("--parallel") { Description = "Concurrent waits while collecting outcomes.", DefaultValueFactory = _ => 64 };
        var waitTimeout = TaskQueueCli.DurationOption("--wait-timeout", "Give up waiting after this (default 10m)");
        var group = new Option<string?>("--group") { Description = "The group of every task (none by default)." };
        foreach (var option in new[] { count, batch, parallel })
        {
            option.Validators.Add(result =>
            {
                if (result.GetValueOrDefault<int>() < 1)
                {
                    result.AddError($"{option.Name} must be at least 1.");
                }
            });
        }

        batch.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() > TaskQueueClientOptions.MaxBatchSize)
            {
                result.AddError($"--batch must be at most {TaskQueueClientOptions.MaxBatchSize}.");
            }
        });

        var command = new Command("load", "Submit many tasks, wait for all, report completion rate and throughput. Exit code 1 unless all completed.")
        {
            count, type, payload, queue, batch, parallel, waitTimeout, group,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, (cli, token) => RunAsync(
            cli,
            new LoadSettings(
                parseResult.GetValue(count),
                parseResult.GetRequiredValue(type),
                parseResult.GetValue(payload) ?? string.Empty,
                parseResult.GetRequiredValue(queue),
                parseResult.GetValue(batch),
                parseResult.GetValue(parallel),
                parseResult.GetValue(waitTimeout) ?? TimeSpan.FromMinutes(10),
                parseResult.GetValue(group)),
            token), cancellationToken));
        return command;
    }

    internal static async Task<int> RunAsync(CliContext cli, LoadSettings settings, CancellationToken cancellationToken)
    {
        var time = cli.TimeProvider;
        var started = time.GetTimestamp();
        var payload = Encoding.UTF8.GetBytes(settings.Payload);
        var ids = new List<string>(settings.Count);

        while (ids.Count < settings.Count)
        {
            var size = Math.Min(settings.Batch, settings.Count - ids.Count);
            var requests = Enumerable.Range(0, size)
                .Select(_ => new TaskRequest { Queue = settings.Queue, Type = settings.Type, Payload = payload, Group = settings.Group })
                .ToArray();
            var results = await cli.Client.SubmitBatchAsync(requests, cancellationToken);
            ids.AddRange(results.Select(result => result.TaskId));
            await cli.Error.WriteAsync($"\rsubmitting {ids.Count}/{settings.Count}");
        }

        var submitted = time.GetElapsedTime(started);
        await cli.Error.WriteLineAsync($"\rsubmitted {settings.Count} tasks to '{settings.Queue}' in {Formatting.Number(submitted.TotalSeconds)} s");

        var tally = new Tally();
        using var progressCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var progress = ShowProgressAsync(cli, tally, settings.Count, started, progressCts.Token);
        var deadline = time.GetTimestamp() + (long)(settings.WaitTimeout.TotalSeconds * time.TimestampFrequency);
        try
        {
            await Parallel.ForEachAsync(
                ids,
                new ParallelOptions { MaxDegreeOfParallelism = settings.Parallel, CancellationToken = cancellationToken },
                async (id, token) => tally.Add(await WaitForFinalAsync(cli, id, deadline, token)));
        }
        finally
        {
            await progressCts.CancelAsync();
            await progress;
        }

        var elapsed = time.GetElapsedTime(started);
        var rate = settings.Count == 0 ? 100 : 100.0 * tally.Completed / settings.Count;
        await cli.Error.WriteLineAsync();
        await cli.Output.WriteLineAsync($"completed: {tally.Completed}  dead-lettered: {tally.DeadLettered}  other: {tally.Other}  not final: {tally.NotFinal}");
        await cli.Output.WriteLineAsync($"completion rate: {Formatting.Number(rate, "0.00")} %");
        await cli.Output.WriteLineAsync(
            $"elapsed: {Formatting.Number(elapsed.TotalSeconds)} s  throughput: {Formatting.Number(settings.Count / Math.Max(elapsed.TotalSeconds, 0.001), "0.0")} tasks/s");
        if (DashboardCost(cli.Configuration, cli.Brokers) is { } note)
        {
            await cli.Output.WriteLineAsync(note);
        }

        return tally.Completed == settings.Count ? CliHost.ExitOk : CliHost.ExitNotCompleted;
    }

    /// <summary>
    /// What tracing costs this figure, when it may: traces are exported over OTLP (OTEL_EXPORTER_OTLP_ENDPOINT is set,
    /// as under the AppHost), or the broker is the AppHost's local one (localhost:5001), whose services export every
    /// span to the Aspire dashboard unless TraceSampling:Ratio says otherwise. Null otherwise.
    /// </summary>
    internal static string? DashboardCost(IConfiguration configuration, IReadOnlyList<Uri> brokers)
    {
        var exporting = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var local = brokers.Any(b => b.IsLoopback && b.Port == new Uri(CliHost.LocalBrokerAddress).Port);
        if (!exporting && !local)
        {
            return null;
        }

        var sampler = configuration["OTEL_TRACES_SAMPLER"];
        var tracing = exporting
            ? $"traces are exported over OTLP (sampler: {(string.IsNullOrWhiteSpace(sampler) ? "every span" : $"{sampler} {configuration["OTEL_TRACES_SAMPLER_ARG"]}".TrimEnd())})"
            : "a broker on localhost:5001 is the AppHost's, whose services export every span to the Aspire dashboard by default";
        return $"note: {tracing}. Tracing every task costs the dashboard about 60 % of a core at 2,000 tasks/s, so this is the dev loop's "
            + "throughput, not the queue's: run the AppHost with `-- --TraceSampling:Ratio=0.01` to trace one task in a hundred (README: Performance).";
    }

    internal static async Task<TaskState?> WaitForFinalAsync(CliContext cli, string id, long deadline, CancellationToken cancellationToken)
    {
        var time = cli.TimeProvider;
        while (true)
        {
            var remaining = TimeSpan.FromSeconds((deadline - time.GetTimestamp()) / (double)time.TimestampFrequency);
            if (remaining <= TimeSpan.Zero)
            {
                return null;
            }

            var task = await cli.Client.WaitAsync(id, remaining < WaitSlice ? remaining : WaitSlice, cancellationToken);
            if (task.IsFinal)
            {
                return task.State;
            }
        }
    }

    private static async Task ShowProgressAsync(CliContext cli, Tally tally, int total, long started, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(ProgressInterval, cli.TimeProvider);
        try
        {
            do
            {
                await RenderProgressAsync(cli, tally, total, started);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException)
        {
            // Waiting is over: show where it ended.
            await RenderProgressAsync(cli, tally, total, started);
        }
    }

    private static Task RenderProgressAsync(CliContext cli, Tally tally, int total, long started)
    {
        const int Width = 30;
        var done = tally.Done;
        var filled = total == 0 ? Width : (int)((long)done * Width / total);
        var seconds = Math.Max(cli.TimeProvider.GetElapsedTime(started).TotalSeconds, 0.001);
        return cli.Error.WriteAsync(
            $"\r[{new string('#', filled)}{new string('.', Width - filled)}] {done}/{total} final  {Formatting.Number(done / seconds, "0")} tasks/s ");
    }

    internal sealed record LoadSettings(
        int Count, string Type, string Payload, string Queue, int Batch, int Parallel, TimeSpan WaitTimeout, string? Group = null);

    private sealed class Tally
    {
        private int _completed;
        private int _deadLettered;
        private int _other;
        private int _notFinal;

        public int Completed => Volatile.Read(ref _completed);

        public int DeadLettered => Volatile.Read(ref _deadLettered);

        public int Other => Volatile.Read(ref _other);

        public int NotFinal => Volatile.Read(ref _notFinal);

        public int Done => Completed + DeadLettered + Other;

        public void Add(TaskState? state)
        {
            switch (state)
            {
                case TaskState.Completed:
                    Interlocked.Increment(ref _completed);
                    break;
                case TaskState.DeadLettered:
                    Interlocked.Increment(ref _deadLettered);
                    break;
                case null:
                    Interlocked.Increment(ref _notFinal);
                    break;
                default:
                    Interlocked.Increment(ref _other);
                    break;
            }
        }
    }
}
