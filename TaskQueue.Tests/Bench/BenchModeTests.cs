using System.Text.Json;
using TaskQueue.Benchmarks;
using TaskQueue.Tests.Distributed;

namespace TaskQueue.Tests.Bench;

/// <summary>
/// The bench mode at its smallest (a few hundred tasks, one run): it must start its processes, measure
/// every figure and write well-formed JSON, so it cannot rot. Timings are never asserted.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class BenchModeTests : IDisposable
{
    private static readonly string[] s_figures =
    [
        "submit.single", "submit.batch", "memory.redis_per_queued_task", "memory.broker_rss_idle", "memory.broker_rss_backlog",
        "drain.workers_1", "submit.batch_during_drain", "cost.redis_commands_per_task", "cost.script_calls_per_task",
        "cost.round_trips_per_task", "cost.redis_cpu_per_1000", "cost.broker_cpu_per_1000", "cost.workers_cpu_per_1000",
        "cost.broker_cpu_per_1000_submit", "cost.redis_cpu_per_1000_submit", "memory.redis_after_drain", "retry", "drain.brokers_2",
        "latency.200.offered", "latency.200.start.p50", "latency.200.start.p95", "latency.200.start.p99", "latency.200.start.max",
        "latency.200.completed.p50", "latency.200.completed.p95", "latency.200.completed.p99", "latency.200.completed.max",
        "memory.redis_per_retained_task",
        "priority_overload.worst_start", "priority_overload.started_during", "priority_overload.offered",
        "redispatch.p50", "redispatch.p99", "redispatch.tasks",
    ];

    private readonly string _output = Directory.CreateTempSubdirectory("taskqueue-bench-test-").FullName;

    public void Dispose() => Directory.Delete(_output, recursive: true);

    [Fact]
    public async Task A_minimal_run_writes_every_figure_as_json()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var json = Path.Combine(_output, "latest.json");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));

        var exitCode = await BenchmarkCli.InvokeAsync(
        [
            "system", "--quick", "--workers", "1", "--fixed-workers", "1", "--concurrency", "8", "--tasks", "300", "--single-tasks", "100",
            "--retry-tasks", "100", "--backlog", "500", "--rates", "200", "--latency-seconds", "1", "--overload-seconds", "3", "--runs", "1",
            "--output", _output, "--json", json,
        ], output, error, timeout.Token);

        Assert.True(exitCode == 0, $"bench exited {exitCode}:\n{error}\n{output}");
        Assert.Contains("drain: 1 worker, 1 broker", output.ToString(), StringComparison.Ordinal);
        Assert.Equal(2, Directory.GetFiles(_output, "*.json").Length); // <timestamp>.json and latest.json

        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = document.RootElement;
        Assert.Equal(1, root.GetProperty("version").GetInt32());
        Assert.True(root.GetProperty("machine").GetProperty("cores").GetInt32() > 0);
        var figures = root.GetProperty("figures").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Empty(s_figures.Except(figures.Keys));
        foreach (var name in s_figures)
        {
            var figure = figures[name];
            Assert.False(string.IsNullOrEmpty(figure.GetProperty("unit").GetString()), name);
            Assert.Equal(JsonValueKind.Number, figure.GetProperty("median").ValueKind);
            Assert.Equal(1, figure.GetProperty("runs").GetArrayLength());
        }
    }
}
