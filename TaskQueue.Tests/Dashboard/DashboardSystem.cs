using System.Diagnostics;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Dashboard;

/// <summary>
/// Redis, a broker, a worker and the operator dashboard as real processes, and the queues the browser scenarios look at:
/// the cluster's queue (a worker serves it; two dead letters, one whose error names <see cref="DeadText"/>, and a few
/// completed tasks), a queue no worker serves (fixed counts: 7 ready, 4 of them in <see cref="GroupA"/>, 3 scheduled) and a big queue of
/// <see cref="BigQueueSize"/> ready tasks (TQ_DASHBOARD_BIG_QUEUE; scripts/screenshots.sh sets 1,000,000).
/// </summary>
public sealed class DashboardSystem : IAsyncLifetime
{
    public const string DeadText = "invoice 4711";

    /// <summary>The group of four of the static queue's seven ready tasks (the others are in "tenant-b").</summary>
    public const string GroupA = "tenant-a";

    /// <summary>The schedule of the cluster's queue (daily at 03:00 Europe/Berlin; the Schedules page triggers it).</summary>
    public const string ScheduleName = "nightly-report";
    private const string BrowserFolder = "TaskQueue.Tests/Dashboard/browser";
    private const string Chromium = "/usr/bin/chromium";
    private TaskQueueCluster? _cluster;
    private ChildProcess? _dashboard;
    private string? _keysDirectory;

    public string ReadKey { get; } = ApiKeys.Create();

    public static int BigQueueSize =>
        int.TryParse(Environment.GetEnvironmentVariable("TQ_DASHBOARD_BIG_QUEUE"), out var size) && size > 0 ? size : 20_000;

    internal TaskQueueCluster Cluster => _cluster ?? throw new InvalidOperationException("not started");

    public string Url { get; private set; } = "";

    public string StaticQueue => Cluster.Queue + "-static";

    public string BigQueue => Cluster.Queue + "-big";

    /// <summary>The queue of the worker the Workers scenario starts and drains (no other worker serves it).</summary>
    public string DrainQueue => Cluster.Queue + "-drain";

    /// <summary>The worker that serves the cluster's queue for every scenario (the read identity's forged drain names it).</summary>
    public const string WorkerId = "dash-worker";

    /// <summary>A completed task of the cluster's queue (the Task page's example).</summary>
    public string CompletedTaskId { get; private set; } = "";

    /// <summary>A task of the cluster's queue that failed twice, then completed (its attempts and its trace link).</summary>
    public string RetriedTaskId { get; private set; } = "";

    /// <summary>The trace id of <see cref="RetriedTaskId"/>'s submit.</summary>
    public const string TraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

    /// <summary>The Aspire dashboard address the dashboard is given (nothing listens there: the link is what is checked).</summary>
    public const string AspireUrl = "http://127.0.0.1:18888";

    /// <summary>A ready task of the static queue (not final: a cancel would change it).</summary>
    public string WaitingTaskId { get; private set; } = "";

    public string DashboardOutput => _dashboard?.RecentOutput ?? "";

    public async Task InitializeAsync()
    {
        RequireBrowser();
        _cluster = await TaskQueueCluster.StartAsync(brokerSettings: TestCredentials.KeySettings("viewer", ReadKey, "read:*"));
        var broker = await Cluster.StartBrokerAsync();
        var client = Cluster.Client();

        // Two dead letters, failed by a raw worker before the real one connects (a replayed one then completes).
        var dead = await Cluster.SubmitAsync([Cluster.Task("echo", "order 1", maxAttempts: 1), Cluster.Task("echo", "order 2", maxAttempts: 1)]);
        var (raw, _) = await RawWorker.ConnectAsync(Cluster.WorkerClient(), "raw-failer", Cluster.Queue, 2);
        await using (raw)
        {
            string[] errors = [$"{DeadText} rejected by the ledger", "ledger offline"];
            for (var i = 0; i < 2; i++)
            {
                var assignment = (await raw.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(10))).Assignment;
                var error = errors[dead.IndexOf(assignment.TaskId)];
                await raw.SendAsync(new WorkerMessage { Failed = new TaskFailed { TaskId = assignment.TaskId, LeaseToken = assignment.LeaseToken, Error = error, Retryable = false } });
            }

            await Eventually.TrueAsync(
                async () => (await client.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = Cluster.Queue })).DeadLettered == 2,
                TimeSpan.FromSeconds(15), () => "the raw worker's failures did not dead-letter both tasks");
        }

        Cluster.StartWorker(WorkerId, concurrency: 4); // the cluster stops it
        await Cluster.WaitForWorkersAsync(WorkerId);
        var done = await Cluster.SubmitAsync(Enumerable.Range(0, 5).Select(i => Cluster.Task("echo", $"{{\"order\":{i},\"note\":\"<b>not bold</b>\"}}")));
        await Cluster.WaitAllFinalAsync(done, TimeSpan.FromSeconds(30));
        CompletedTaskId = done[0];

        // A task that fails twice ("fail" with payload 2) and completes on its third attempt, submitted in a trace.
        var failing = Cluster.Task("fail", "2", maxAttempts: 3);
        failing.TraceParent = $"00-{TraceId}-00f067aa0ba902b7-01";
        var retried = await Cluster.SubmitAsync([failing]);
        await Cluster.WaitAllFinalAsync(retried, TimeSpan.FromSeconds(30));
        RetriedTaskId = retried[0];

        // An admin action before any scenario, so the audit trail (and its screenshot) has an entry: a cancelled waiting task.
        var later = await Cluster.SubmitAsync([new TaskSpec { Queue = Cluster.Queue, Type = "echo", Delay = Duration.FromTimeSpan(TimeSpan.FromHours(1)) }]);
        await client.CancelAsync(new CancelTaskRequest { TaskId = later[0] });

        var waiting = Enumerable.Range(0, 7).Select(i => new TaskSpec
            {
                Queue = StaticQueue, Type = "echo", Payload = ByteString.CopyFromUtf8($"waiting {i}"), Group = i % 2 == 0 ? GroupA : "tenant-b",
            })
            .Concat(Enumerable.Range(0, 3).Select(i => new TaskSpec
            {
                Queue = StaticQueue, Type = "report", Payload = ByteString.CopyFrom(0, 1, 2, 0xff), Delay = Duration.FromTimeSpan(TimeSpan.FromHours(1)),
            }));
        WaitingTaskId = (await Cluster.SubmitAsync(waiting))[0];

        // A schedule of the worker's queue whose slots are far from the test's time (03:00 in Berlin, daily): its tasks
        // come only from "trigger now".
        await client.UpsertScheduleAsync(new UpsertScheduleRequest
        {
            Schedule = new ScheduleSpec
            {
                Queue = Cluster.Queue, Name = ScheduleName, Cron = "0 3 * * *", TimeZone = "Europe/Berlin",
                Template = new ScheduleTemplate { Type = "echo", Payload = ByteString.CopyFromUtf8("{\"report\":\"nightly\"}") },
            },
        });
        await FillAsync(client, BigQueue, BigQueueSize);

        var port = RedisServer.FreePort();
        _keysDirectory = Directory.CreateTempSubdirectory("tq-dashboard-keys-").FullName;
        _dashboard = ChildProcess.StartService("TaskQueue.Dashboard", "dashboard", new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["TaskQueue__BrokerAddress"] = broker.GrpcAddress,
            ["Dashboard__BrokerHttpAddress"] = broker.HttpAddress,
            ["Dashboard__KeysDirectory"] = _keysDirectory,
            ["Dashboard__RefreshInterval"] = "00:00:01",
            ["Dashboard__AspireUrl"] = AspireUrl,
        });
        Url = $"http://127.0.0.1:{port}";
        using var http = new HttpClient();
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri(Url + "/health"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => "the dashboard did not become healthy:\n" + _dashboard.RecentOutput);
    }

    /// <summary>Fills <paramref name="queue"/> with <paramref name="count"/> small tasks, SubmitBatch calls of 1,000, eight at a time.</summary>
    private static async Task FillAsync(TaskService.TaskServiceClient client, string queue, int count)
    {
        using var gate = new SemaphoreSlim(8);
        var batches = Enumerable.Range(0, (count + 999) / 1000).Select(async batch =>
        {
            await gate.WaitAsync();
            try
            {
                var request = new SubmitBatchRequest();
                for (var i = batch * 1000; i < Math.Min(count, (batch + 1) * 1000); i++)
                {
                    request.Tasks.Add(new TaskSpec { Queue = queue, Type = i % 10 == 0 ? "resize" : "echo", Payload = ByteString.CopyFromUtf8($"item {i}") });
                }

                await client.SubmitBatchAsync(request, deadline: DateTime.UtcNow.AddMinutes(2));
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(batches);
    }

    /// <summary>
    /// Runs one browser scenario; returns its RESULT object. Fails with the script's output when it does not print one.
    /// A scenario that needs the test to act between its steps prints "STEP name" and waits: <paramref name="step"/> is
    /// called with the name (submit tasks, stop a worker, ...), then the scenario is told to go on.
    /// </summary>
    public async Task<JsonElement> RunScenarioAsync(
        string scenario, IReadOnlyDictionary<string, string>? extra = null, Func<string, Task>? step = null)
    {
        var start = new ProcessStartInfo("node", ["scenarios.mjs", scenario])
        {
            WorkingDirectory = Path.Combine(BuildOutput.RepositoryRoot(), BrowserFolder),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        start.Environment["DASHBOARD_URL"] = Url;
        start.Environment["ADMIN_KEY"] = Cluster.AdminKey;
        start.Environment["READ_KEY"] = ReadKey;
        start.Environment["QUEUE"] = Cluster.Queue;
        start.Environment["STATIC_QUEUE"] = StaticQueue;
        start.Environment["BIG_QUEUE"] = BigQueue;
        start.Environment["DEAD_TEXT"] = DeadText;
        start.Environment["GROUP"] = GroupA;
        start.Environment["SCHEDULE"] = ScheduleName;
        start.Environment["RETRIED_TASK_ID"] = RetriedTaskId;
        start.Environment["TASK_ID"] = scenario == "readonly" ? WaitingTaskId : CompletedTaskId;
        start.Environment["WORKER_ID"] = WorkerId;
        start.Environment["CHROMIUM"] = Chromium;
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var output = new System.Text.StringBuilder();
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                output.Append(line).Append('\n');
                if (line.StartsWith("RESULT ", StringComparison.Ordinal))
                {
                    process.StandardInput.Close(); // no step follows the result
                }

                if (line.StartsWith("STEP ", StringComparison.Ordinal))
                {
                    var name = line["STEP ".Length..].Trim();
                    await (step ?? throw new InvalidOperationException($"scenario '{scenario}' asked for step '{name}' and the test has none"))(name);
                    await process.StandardInput.WriteLineAsync("done");
                    await process.StandardInput.FlushAsync(timeout.Token);
                }
            }

            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"browser scenario '{scenario}' ran over 120 s:\n{output}\n{await stderr}");
        }

        var result = output.ToString().Split('\n').LastOrDefault(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        Assert.True(
            process.ExitCode == 0 && result is not null,
            $"browser scenario '{scenario}' exited {process.ExitCode}:\n{output}\n{await stderr}\n--- dashboard:\n{DashboardOutput}");
        return JsonDocument.Parse(result!["RESULT ".Length..]).RootElement.Clone();
    }

    /// <summary>No browser, no test: a missing node, chromium or playwright-core fails here, saying what to install.</summary>
    private static void RequireBrowser()
    {
        var folder = Path.Combine(BuildOutput.RepositoryRoot(), BrowserFolder);
        var missing = new List<string>();
        if (!File.Exists(Chromium))
        {
            missing.Add($"{Chromium} (apt-get install -y chromium)");
        }

        if (!OnPath("node"))
        {
            missing.Add("node (apt-get install -y nodejs npm)");
        }

        if (!Directory.Exists(Path.Combine(folder, "node_modules", "playwright-core")))
        {
            missing.Add($"playwright-core (npm ci --prefix {folder})");
        }

        if (missing.Count > 0)
        {
            throw new InvalidOperationException(
                "The dashboard's browser tests need headless Chromium driven by playwright-core; missing: " + string.Join("; ", missing)
                + ". .ci/run installs all of them.");
        }
    }

    private static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(dir => File.Exists(Path.Combine(dir, program)));

    public async Task DisposeAsync()
    {
        if (_dashboard is not null)
        {
            await _dashboard.DisposeAsync();
        }

        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_keysDirectory is not null)
        {
            Directory.Delete(_keysDirectory, recursive: true);
        }
    }
}
