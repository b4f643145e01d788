using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// <c>system</c>: throughput, latency and cost of the whole system on this machine — Redis, brokers and
/// worker processes it starts itself (or attaches to) — printed as one table and written as JSON.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "A short run (about a minute): fewer tasks, 1 run; every figure still measured." };
        var redis = new Option<string?>("--redis") { Description = "Use this Redis (host:port) instead of a private redis-server.", HelpName = "host:port" };
        var noPersistence = new Option<bool>("--no-persistence") { Description = "Run the private redis-server without its append-only file (default: AOF, fsync every second, as TaskQueue runs Redis)." };
        var broker = new Option<Uri[]>("--broker") { Description = "Use this running broker (gRPC address; twice for the 2-broker figure) instead of starting brokers. Needs --redis.", HelpName = "url", AllowMultipleArgumentsPerToken = false };
        var workers = IntList("--workers", "Worker processes of the drain scenarios, comma-separated (default 1,2,4,8).");
        var fixedWorkers = Int("--fixed-workers", "Workers of the retry, 2-broker and latency scenarios (default 4).");
        var concurrency = Int("--concurrency", "Slots per worker (Worker:Concurrency; default 256: no-op tasks need a deep pipeline to cover the round trip).");
        var tasks = Int("--tasks", "Tasks per drain run, and per batch-submit run (default 100000; --quick 10000).");
        var batch = Int("--batch", "Tasks per SubmitBatch call (default 500).");
        var inFlight = Int("--in-flight", "SubmitBatch calls in flight at once (default 4).");
        var single = Int("--single-tasks", "Tasks per single-submit run (default 20000; --quick 2000).");
        var submitConcurrency = Int("--submit-concurrency", "Single Submit calls in flight at once (default 64).");
        var rates = IntList("--rates", "Offered rates of the latency scenario, tasks/s (default 500,2000,5000).");
        var latencySeconds = Int("--latency-seconds", "Seconds per latency run, and per idle-queues CPU window (default 10; --quick 3).");
        var overloadSeconds = Int("--overload-seconds", "Seconds of the priority overload; the redispatch load runs half as long (default 30; --quick 6).");
        var retry = Int("--retry-tasks", "Tasks per retry run (default 50000; --quick 5000).");
        var backlog = Int("--backlog", "Queued tasks of the broker-memory scenario (default 1000000; --quick 50000).");
        var runs = Int("--runs", "Runs per figure; the table shows the median and range (default 3; --quick 1).");
        var scenarios = new Option<string?>("--scenarios") { Description = $"Run only these, comma-separated: {string.Join(",", BenchSettings.AllScenarios)} (default all).", HelpName = "list" };
        var environment = new Option<string[]>("--env")
        {
            Description = "KEY=VALUE added to the environment of every broker and worker started (repeatable), e.g. OTEL_TRACES_SAMPLER=always_off.",
            HelpName = "KEY=VALUE",
        };
        environment.Validators.Add(result =>
        {
            foreach (var pair in result.GetValueOrDefault<string[]>() ?? [])
            {
                if (pair.IndexOf('=', StringComparison.Ordinal) < 1)
                {
                    result.AddError($"--env takes KEY=VALUE; '{pair}' is not.");
                }
            }
        });
        var output = new Option<string?>("--output") { Description = "Directory for <timestamp>.json (default bench-results).", HelpName = "dir" };
        var json = new Option<string?>("--json") { Description = "Also write the JSON here (e.g. docs/bench/latest.json).", HelpName = "file" };
        var build = new Option<string?>("--build-dir") { Description = "Where the broker and worker builds are; {project} stands for the project name (default: beside this build).", HelpName = "dir" };

        var command = new Command("system", "Measure throughput, latency and cost of the whole system on this machine; print a table, write JSON.")
        {
            quick, redis, noPersistence, broker, workers, fixedWorkers, concurrency, tasks, batch, inFlight, single, submitConcurrency,
            rates, latencySeconds, overloadSeconds, retry, backlog, runs, scenarios, environment, output, json, build,
        };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var start = parseResult.GetValue(quick) ? BenchSettings.Quick : new BenchSettings();
            var settings = start with
            {
                Redis = parseResult.GetValue(redis),
                NoPersistence = parseResult.GetValue(noPersistence),
                Brokers = parseResult.GetValue(broker) is { Length: > 0 } brokers ? brokers : [],
                Workers = parseResult.GetValue(workers) is { Length: > 0 } workerCounts ? workerCounts : start.Workers,
                FixedWorkers = parseResult.GetValue(fixedWorkers) ?? start.FixedWorkers,
                Concurrency = parseResult.GetValue(concurrency) ?? start.Concurrency,
                Tasks = parseResult.GetValue(tasks) ?? start.Tasks,
                Batch = parseResult.GetValue(batch) ?? start.Batch,
                InFlight = parseResult.GetValue(inFlight) ?? start.InFlight,
                SingleTasks = parseResult.GetValue(single) ?? start.SingleTasks,
                SubmitConcurrency = parseResult.GetValue(submitConcurrency) ?? start.SubmitConcurrency,
                Rates = parseResult.GetValue(rates) is { Length: > 0 } offered ? offered : start.Rates,
                LatencyDuration = parseResult.GetValue(latencySeconds) is { } seconds ? TimeSpan.FromSeconds(seconds) : start.LatencyDuration,
                OverloadDuration = parseResult.GetValue(overloadSeconds) is { } overload ? TimeSpan.FromSeconds(overload) : start.OverloadDuration,
                RetryTasks = parseResult.GetValue(retry) ?? start.RetryTasks,
                Backlog = parseResult.GetValue(backlog) ?? start.Backlog,
                Runs = parseResult.GetValue(runs) ?? start.Runs,
                Scenarios = parseResult.GetValue(scenarios) is { } names
                    ? names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                    : start.Scenarios,
                ServiceEnvironment = (parseResult.GetValue(environment) ?? [])
                    .Select(pair => pair.Split('=', 2))
                    .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal),
                OutputDirectory = parseResult.GetValue(output) ?? start.OutputDirectory,
                JsonPath = parseResult.GetValue(json),
                BuildDirectory = parseResult.GetValue(build),
            };
            return await RunAsync(settings, parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, TimeProvider.System, cancellationToken);
        });
        return command;
    }

    internal static async Task<int> RunAsync(BenchSettings settings, TextWriter output, TextWriter error, TimeProvider time, CancellationToken cancellationToken)
    {
        if (settings.Problems().ToList() is { Count: > 0 } problems)
        {
            foreach (var problem in problems)
            {
                await error.WriteLineAsync("error: " + problem);
            }

            return 2;
        }

        var timestamp = time.GetUtcNow();
        var loadAtStart = LoadAverage();
        try
        {
            await using var system = await BenchSystem.StartAsync(settings, cancellationToken);
            await using var redis = await RespConnection.ConnectAsync(system.RedisEndpoint, cancellationToken);
            var version = (await RedisInfo.ReadAsync(redis, cancellationToken)).Version;
            await error.WriteLineAsync(
                $"bench: Redis {version} at {system.RedisEndpoint}{(system.OwnsRedis ? settings.NoPersistence ? " (private, no persistence)" : " (private, AOF everysec)" : "")}, " +
                $"{Environment.ProcessorCount} cores, load average {loadAtStart}");
            var report = await new BenchRunner(settings, system, redis, error, time).RunAsync(cancellationToken);

            var machine = new MachineInfo(
                Environment.ProcessorCount, CpuModel(), RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription,
                version, loadAtStart, LoadAverage());
            report.Notes.Add($"load average (1/5/15 min) at start {machine.LoadAtStart}, at end {machine.LoadAtEnd}, {machine.Cores} cores");
            await output.WriteLineAsync();
            await report.PrintAsync(output);

            var result = report.ToResult(timestamp, machine, settings);
            var path = Path.Combine(settings.OutputDirectory, timestamp.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".json");
            foreach (var file in new[] { path, settings.JsonPath }.OfType<string>())
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
                await File.WriteAllTextAsync(file, JsonSerializer.Serialize(result, BenchResult.JsonOptions) + "\n", cancellationToken);
                await error.WriteLineAsync($"bench: wrote {file}");
            }

            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("cancelled");
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or Grpc.Core.RpcException)
        {
            await error.WriteLineAsync($"bench failed: {ex}");
            return 1;
        }
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo")
                .FirstOrDefault(line => line.StartsWith("model name", StringComparison.Ordinal))?
                .Split(':', 2)[1].Trim() ?? "unknown";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    private static Option<int?> Int(string name, string description)
    {
        var option = new Option<int?>(name) { Description = description, HelpName = "n" };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is < 1)
            {
                result.AddError($"{name} must be at least 1.");
            }
        });
        return option;
    }

    private static Option<int[]?> IntList(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "n,n,...",
        CustomParser = result => ParseList(result, name),
    };

    private static int[]? ParseList(ArgumentResult result, string name)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < 1)
            {
                result.AddError($"{name} takes positive whole numbers separated by commas; '{part}' is not one.");
                return null;
            }

            values.Add(value);
        }

        return values.Count == 0 ? null : [.. values];
    }
}
