using System.Globalization;

namespace TaskQueue.Client.Bench;

/// <summary>A broker the benchmark talks to: one it started (with its process, for CPU and memory) or one it attached to.</summary>
internal sealed record BrokerEndpoint(Uri GrpcAddress, Uri? HttpAddress, LocalProcess? Process);

/// <summary>
/// The processes under test on this machine: one Redis, brokers and workers, started from the Release
/// builds of TaskQueue.Broker and TaskQueue.WorkerService with <c>dotnet &lt;dll&gt;</c> (or attached to, with
/// --redis and --broker). Everything it started it kills when disposed.
/// </summary>
internal sealed class BenchSystem : IAsyncDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private readonly BenchSettings _settings;
    private readonly string? _buildDirectory;
    private readonly string _redisDirectory;
    private readonly List<LocalProcess> _workers = [];
    private readonly List<BrokerEndpoint> _startedBrokers = [];
    private int _workerSequence;

    private BenchSystem(BenchSettings settings, string? buildDirectory, string redisEndpoint, LocalProcess? redisProcess, string redisDirectory)
    {
        _settings = settings;
        _buildDirectory = buildDirectory;
        RedisEndpoint = redisEndpoint;
        RedisProcess = redisProcess;
        _redisDirectory = redisDirectory;
    }

    public string RedisEndpoint { get; }

    /// <summary>The private redis-server, or null for an attached Redis (its CPU then comes from INFO).</summary>
    public LocalProcess? RedisProcess { get; }

    public bool OwnsRedis => RedisProcess is not null;

    public IReadOnlyList<LocalProcess> Workers => _workers;

    public static async Task<BenchSystem> StartAsync(BenchSettings settings, CancellationToken cancellationToken)
    {
        string? build = null;
        if (!settings.Attached)
        {
            build = settings.BuildDirectory ?? DefaultBuildDirectory();
            foreach (var project in new[] { "TaskQueue.Broker", "TaskQueue.WorkerService" })
            {
                var dll = Dll(build, project);
                if (!File.Exists(dll))
                {
                    throw new FileNotFoundException(
                        $"{dll} is missing: build it first (`dotnet build -c Release {project}`, or run scripts/bench.sh).", dll);
                }
            }
        }

        if (settings.Redis is { } endpoint)
        {
            return new BenchSystem(settings, build, endpoint, null, "");
        }

        var directory = Directory.CreateTempSubdirectory("taskqueue-bench-redis-").FullName;
        var port = LocalProcess.FreePort();
        // The settings every TaskQueue-run Redis uses (README, "Redis settings"), without persistence:
        // the benchmark measures the queue, not the disk.
        var redis = LocalProcess.Start("redis", FindRedisServer(),
        [
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", directory, "--save", "",
            "--appendonly", "no", "--maxmemory-policy", "noeviction", "--daemonize", "no", "--hash-max-listpack-value", "1024",
        ]);
        var system = new BenchSystem(settings, build, $"127.0.0.1:{port}", redis, directory);
        try
        {
            await WaitUntilAsync(
                async token =>
                {
                    try
                    {
                        await using var probe = await RespConnection.ConnectAsync(system.RedisEndpoint, token);
                        return await probe.CallAsync(token, "PING") is "PONG";
                    }
                    catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                    {
                        return false;
                    }
                },
                () => redis.HasExited ? "redis-server exited:\n" + redis.RecentOutput : null,
                "redis-server",
                cancellationToken);
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts a broker with extra settings (TaskQueue__Store__Retention, ...) and waits until it is healthy.</summary>
    public async Task<BrokerEndpoint> StartBrokerAsync(IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var http = new Uri($"http://127.0.0.1:{LocalProcess.FreePort()}");
        var grpc = new Uri($"http://127.0.0.1:{LocalProcess.FreePort()}");
        var environment = new Dictionary<string, string>(ServiceEnvironment)
        {
            ["ConnectionStrings__redis"] = RedisEndpoint,
            ["Kestrel__Endpoints__http__Url"] = http.ToString().TrimEnd('/'),
            ["Kestrel__Endpoints__grpc__Url"] = grpc.ToString().TrimEnd('/'),
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var process = StartService("TaskQueue.Broker", $"broker-{grpc.Port}", environment);
        var broker = new BrokerEndpoint(grpc, http, process);
        _startedBrokers.Add(broker);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(
            async token =>
            {
                try
                {
                    return (await client.GetAsync(new Uri(http, "/health"), token)).IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            },
            () => process.HasExited ? "the broker exited:\n" + process.RecentOutput : null,
            "the broker",
            cancellationToken);
        return broker;
    }

    public async Task StopBrokerAsync(BrokerEndpoint broker)
    {
        _startedBrokers.Remove(broker);
        if (broker.Process is { } process)
        {
            await process.DisposeAsync();
        }
    }

    /// <summary>Starts workers on a broker and waits until each is registered as connected in Redis.</summary>
    public async Task<IReadOnlyList<LocalProcess>> StartWorkersAsync(
        BrokerEndpoint broker, string queue, int count, RespConnection redis, CancellationToken cancellationToken)
    {
        var started = new List<(string Id, LocalProcess Process)>();
        for (var i = 0; i < count; i++)
        {
            var id = $"bench-{Environment.ProcessId}-{++_workerSequence}";
            var environment = new Dictionary<string, string>(ServiceEnvironment)
            {
                ["Worker__BrokerAddress"] = broker.GrpcAddress.ToString().TrimEnd('/'),
                ["Worker__Queues"] = queue,
                ["Worker__Concurrency"] = _settings.Concurrency.ToString(CultureInfo.InvariantCulture),
                ["Worker__WorkerId"] = id,
                ["Worker__DrainTimeout"] = "00:00:02",
            };
            var process = StartService("TaskQueue.WorkerService", id, environment);
            _workers.Add(process);
            started.Add((id, process));
        }

        await WaitUntilAsync(
            async token =>
            {
                var replies = await redis.PipelineAsync([.. started.Select(w => new[] { "HGET", "tq:worker:" + w.Id, "connected" })], token);
                return replies.All(r => r is "1");
            },
            () => started.FirstOrDefault(w => w.Process.HasExited) is { Process: { } dead } ? $"worker {dead.Name} exited:\n{dead.RecentOutput}" : null,
            $"{count} worker(s)",
            cancellationToken);
        return [.. started.Select(w => w.Process)];
    }

    public async Task StopWorkersAsync(IEnumerable<LocalProcess> workers)
    {
        foreach (var worker in workers.ToList())
        {
            _workers.Remove(worker);
            await worker.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Everything dies first, at once: an interrupted benchmark must not leave processes behind.
        foreach (var process in _workers.Concat(_startedBrokers.Select(b => b.Process)).Append(RedisProcess).OfType<LocalProcess>())
        {
            process.Kill();
        }

        await StopWorkersAsync(_workers);
        foreach (var broker in _startedBrokers.ToList())
        {
            await StopBrokerAsync(broker);
        }

        if (RedisProcess is { } redis)
        {
            await redis.DisposeAsync();
            try
            {
                Directory.Delete(_redisDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Production settings as the services run them, minus telemetry export and per-request logs.</summary>
    private static readonly Dictionary<string, string> ServiceEnvironment = new()
    {
        ["DOTNET_ENVIRONMENT"] = "Production",
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__Console__FormatterName"] = "simple",
    };

    private LocalProcess StartService(string project, string name, Dictionary<string, string> environment)
    {
        foreach (var (key, value) in _settings.ServiceEnvironment)
        {
            environment[key] = value;
        }

        return LocalProcess.Start(name, "dotnet", [Dll(_buildDirectory!, project)], environment);
    }

    private static string Dll(string buildDirectory, string project) =>
        Path.Combine(buildDirectory.Replace("{project}", project, StringComparison.Ordinal), project + ".dll");

    /// <summary>Beside this client's own build: &lt;repo&gt;/{project}/bin/&lt;configuration&gt;/&lt;framework&gt;.</summary>
    private static string DefaultBuildDirectory()
    {
        var output = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(output);
        var configuration = Path.GetFileName(Path.GetDirectoryName(output)!);
        var root = new DirectoryInfo(output);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "TaskQueue.sln")))
        {
            root = root.Parent;
        }

        return root is null
            ? throw new InvalidOperationException("TaskQueue.sln was not found above this build; pass --build-dir.")
            : Path.Combine(root.FullName, "{project}", "bin", configuration, framework);
    }

    private static string FindRedisServer() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Append("/usr/bin").Append("/usr/local/bin").Append("/usr/sbin")
        .Select(dir => Path.Combine(dir, "redis-server"))
        .FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("redis-server was not found on PATH; install it or pass --redis host:port.");

    /// <summary>Polls until <paramref name="ready"/>; fails at once when <paramref name="failure"/> says why, or after a minute.</summary>
    public static async Task WaitUntilAsync(
        Func<CancellationToken, Task<bool>> ready, Func<string?> failure, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + s_startTimeout;
        while (!await ready(cancellationToken))
        {
            if (failure() is { } problem)
            {
                throw new InvalidOperationException(problem);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not start within {s_startTimeout.TotalSeconds:0} s.");
            }

            await Task.Delay(50, cancellationToken);
        }
    }
}
