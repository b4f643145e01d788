namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>What one benchmark run measures and against what; see <see cref="BenchCommand"/> for each option.</summary>
internal sealed record BenchSettings
{
    public string? Redis { get; init; }

    /// <summary>The private redis-server without its append-only file (default: AOF, fsync every second, as TaskQueue runs it).</summary>
    public bool NoPersistence { get; init; }

    public IReadOnlyList<Uri> Brokers { get; init; } = [];

    public IReadOnlyList<int> Workers { get; init; } = [1, 2, 4, 8];

    /// <summary>Workers of the retry, two-broker and latency scenarios.</summary>
    public int FixedWorkers { get; init; } = 4;

    public int Concurrency { get; init; } = 256;

    public int Tasks { get; init; } = 100_000;

    public int Batch { get; init; } = 500;

    public int InFlight { get; init; } = 4;

    public int SingleTasks { get; init; } = 20_000;

    public int SubmitConcurrency { get; init; } = 64;

    public IReadOnlyList<int> Rates { get; init; } = [500, 2000, 5000];

    public TimeSpan LatencyDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the priority-overload scenario overloads the workers; the redispatch load lasts half as long.</summary>
    public TimeSpan OverloadDuration { get; init; } = TimeSpan.FromSeconds(30);

    public int RetryTasks { get; init; } = 50_000;

    public int Backlog { get; init; } = 1_000_000;

    public int Runs { get; init; } = 3;

    public int PayloadBytes { get; init; } = 100;

    public string OutputDirectory { get; init; } = "bench-results";

    public string? JsonPath { get; init; }

    /// <summary>Where the broker and worker builds are (default: beside this client's build, same configuration).</summary>
    public string? BuildDirectory { get; init; }

    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Extra environment of every broker and worker started (e.g. OTEL_TRACES_SAMPLER=always_off).</summary>
    public IReadOnlyDictionary<string, string> ServiceEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>Every scenario, in the order they run.</summary>
    public static IReadOnlyList<string> AllScenarios { get; } = ["submit", "backlog", "drain", "retry", "pair", "latency", "idle-queues", "priority-overload", "redispatch", "flow", "shards"];

    /// <summary>Scenarios to run (a subset of <see cref="AllScenarios"/>, e.g. to profile one).</summary>
    public IReadOnlyList<string> Scenarios { get; init; } = AllScenarios;

    public bool Attached => Brokers.Count > 0;

    public bool Includes(string scenario) => Scenarios.Contains(scenario, StringComparer.Ordinal);

    /// <summary>A short run: every figure but the shards scenario's (it starts three clusters), a few seconds each.</summary>
    public static BenchSettings Quick { get; } = new()
    {
        Scenarios = [.. AllScenarios.Where(s => s != "shards")],
        Tasks = 10_000,
        SingleTasks = 2_000,
        LatencyDuration = TimeSpan.FromSeconds(3),
        OverloadDuration = TimeSpan.FromSeconds(6),
        RetryTasks = 5_000,
        Backlog = 50_000,
        Runs = 1,
    };

    public IEnumerable<string> Problems()
    {
        if (Workers.Count == 0 || Workers.Any(w => w is < 1 or > 64))
        {
            yield return "--workers needs 1 to 64 workers per entry.";
        }

        if (FixedWorkers is < 1 or > 64)
        {
            yield return "--fixed-workers must be 1 to 64.";
        }

        if (Concurrency is < 1 or > 1024)
        {
            yield return "--concurrency must be 1 to 1024.";
        }

        if (Batch is < 1 or > 1000)
        {
            yield return "--batch must be 1 to 1000 (the broker's limit).";
        }

        if (Rates.Count == 0 || Rates.Any(r => r < 1))
        {
            yield return "--rates needs positive rates.";
        }

        if (LatencyDuration <= TimeSpan.Zero || Timeout <= TimeSpan.Zero)
        {
            yield return "--latency-duration and --timeout must be positive.";
        }

        if (OverloadDuration < TimeSpan.FromSeconds(3))
        {
            yield return "--overload-seconds must be at least 3.";
        }

        foreach (var (name, value) in new[]
                 {
                     ("--tasks", Tasks), ("--in-flight", InFlight), ("--single-tasks", SingleTasks), ("--submit-concurrency", SubmitConcurrency),
                     ("--retry-tasks", RetryTasks), ("--backlog", Backlog), ("--runs", Runs), ("--payload-bytes", PayloadBytes),
                 })
        {
            if (value < 1)
            {
                yield return $"{name} must be at least 1.";
            }
        }

        if (Scenarios.Count == 0 || Scenarios.Except(AllScenarios, StringComparer.Ordinal).Any())
        {
            yield return $"--scenarios takes some of {string.Join(",", AllScenarios)}.";
        }

        if (Attached && Redis is null)
        {
            yield return "--broker needs --redis too: the figures of cost are read from the broker's Redis.";
        }
    }
}
