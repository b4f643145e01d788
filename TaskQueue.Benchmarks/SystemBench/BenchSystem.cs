using System.Globalization;
using TaskQueue.Client;
using TaskQueue.Protocol;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>A broker the benchmark talks to: one it started (with its process, for CPU and memory) or one it attached to.</summary>
internal sealed record BrokerEndpoint(Uri GrpcAddress, Uri? HttpAddress, ChildProcess? Process);

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
    private readonly RedisServerProcess? _redisServer;
    private readonly List<ChildProcess> _workers = [];
    private readonly List<BrokerEndpoint> _startedBrokers = [];
    private int _workerSequence;

    private BenchSystem(BenchSettings settings, string? buildDirectory, string redisEndpoint, RedisServerProcess? redisServer)
    {
        _settings = settings;
        _buildDirectory = buildDirectory;
        RedisEndpoint = redisEndpoint;
        _redisServer = redisServer;
        // Security on, as deployed: the brokers it starts know two keys by their hashes; an attached broker gets the
        // benchmark's own key from TaskQueue__ApiKey (one key with submit, read, admin and consume then serves both).
        var attachedKey = Environment.GetEnvironmentVariable("TaskQueue__ApiKey") ?? "";
        ClientKey = settings.Attached ? attachedKey : ApiKeys.Create();
        WorkerKey = settings.Attached ? attachedKey : ApiKeys.Create();
    }

    public string RedisEndpoint { get; }

    /// <summary>The benchmark's own key (submit, read, admin on every queue): its gRPC clients send it.</summary>
    public string ClientKey { get; }

    /// <summary>The workers' key (consume on every queue).</summary>
    public string WorkerKey { get; }

    /// <summary>The private redis-server, or null for an attached Redis (its CPU then comes from INFO).</summary>
    public ChildProcess? RedisProcess => _redisServer?.Process;

    public bool OwnsRedis => _redisServer is not null;

    public IReadOnlyList<ChildProcess> Workers => _workers;

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
            return new BenchSystem(settings, build, endpoint, null);
        }

        // The settings TaskQueue runs Redis with (AOF, fsync every second: what users run), unless
        // --no-persistence asks to measure the queue without the disk.
        if (RedisServerProcess.FindExecutable() is null)
        {
            throw new InvalidOperationException("redis-server was not found on PATH; install it or pass --redis host:port.");
        }

        var redis = await RedisServerProcess.StartAsync(
            extraArguments: settings.NoPersistence ? RedisServerSettings.NoPersistence : [],
            startTimeout: s_startTimeout,
            cancellationToken: cancellationToken);
        return new BenchSystem(settings, build, redis.Endpoint, redis);
    }

    /// <summary>Starts a broker with extra settings (TaskQueue__Store__Retention, ...) and waits until it is healthy.</summary>
    public async Task<BrokerEndpoint> StartBrokerAsync(IReadOnlyDictionary<string, string> settings, CancellationToken cancellationToken)
    {
        var http = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var grpc = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}");
        var environment = new Dictionary<string, string>(ServiceEnvironment)
        {
            ["ConnectionStrings__redis"] = RedisEndpoint,
            ["Kestrel__Endpoints__http__Url"] = http.ToString().TrimEnd('/'),
            ["Kestrel__Endpoints__grpc__Url"] = grpc.ToString().TrimEnd('/'),
            ["TaskQueue__Security__ApiKeys__bench__Sha256"] = ApiKeys.Hash(ClientKey),
            ["TaskQueue__Security__ApiKeys__bench__Scopes__0"] = "submit:* read:* admin:*",
            ["TaskQueue__Security__ApiKeys__bench-worker__Sha256"] = ApiKeys.Hash(WorkerKey),
            ["TaskQueue__Security__ApiKeys__bench-worker__Scopes__0"] = "consume:*",
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

    /// <summary>Starts workers on a broker and waits until each is registered as connected in Redis (slots: --concurrency unless given).</summary>
    public Task<IReadOnlyList<ChildProcess>> StartWorkersAsync(
        BrokerEndpoint broker, string queue, int count, RespConnection redis, CancellationToken cancellationToken, int? concurrency = null) =>
        StartWorkersAsync(
            broker,
            queue,
            count,
            async (keys, token) => (await redis.PipelineAsync([.. keys.Select(key => new[] { "HGET", key, Broker.Storage.WorkerFields.Connected })], token)).All(r => r is "1"),
            cancellationToken,
            concurrency);

    /// <summary>
    /// Starts workers on a broker (<paramref name="queue"/>: one queue or several, comma-separated) and waits until
    /// <paramref name="allConnected"/> says every worker's registry hash (its key given) has its connected field at 1:
    /// for a broker of another Redis than this system's (the shards scenario's clusters).
    /// </summary>
    public async Task<IReadOnlyList<ChildProcess>> StartWorkersAsync(
        BrokerEndpoint broker, string queue, int count, Func<IReadOnlyList<string>, CancellationToken, Task<bool>> allConnected,
        CancellationToken cancellationToken, int? concurrency = null)
    {
        var started = new List<(string Id, ChildProcess Process)>();
        for (var i = 0; i < count; i++)
        {
            var id = $"bench-{Environment.ProcessId}-{++_workerSequence}";
            var environment = new Dictionary<string, string>(ServiceEnvironment)
            {
                ["Worker__BrokerAddress"] = broker.GrpcAddress.ToString().TrimEnd('/'),
                ["Worker__Queues"] = queue,
                ["Worker__Concurrency"] = (concurrency ?? _settings.Concurrency).ToString(CultureInfo.InvariantCulture),
                ["Worker__WorkerId"] = id,
                ["Worker__DrainTimeout"] = "00:00:02",
                ["TaskQueue__ApiKey"] = WorkerKey,
            };
            var process = StartService("TaskQueue.WorkerService", id, environment);
            _workers.Add(process);
            started.Add((id, process));
        }

        await WaitUntilAsync(
            token => allConnected([.. started.Select(w => Broker.Storage.RedisKeys.Worker(w.Id))], token),
            () => started.FirstOrDefault(w => w.Process.HasExited) is { Process: { } dead } ? $"worker {dead.Name} exited:\n{dead.RecentOutput}" : null,
            $"{count} worker(s)",
            cancellationToken);
        return [.. started.Select(w => w.Process)];
    }

    public async Task StopWorkersAsync(IEnumerable<ChildProcess> workers)
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
        foreach (var process in _workers.Concat(_startedBrokers.Select(b => b.Process)).Append(RedisProcess).OfType<ChildProcess>())
        {
            process.Kill();
        }

        await StopWorkersAsync(_workers);
        foreach (var broker in _startedBrokers.ToList())
        {
            await StopBrokerAsync(broker);
        }

        if (_redisServer is { } redis)
        {
            await redis.DisposeAsync();
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

    private ChildProcess StartService(string project, string name, Dictionary<string, string> environment)
    {
        foreach (var (key, value) in _settings.ServiceEnvironment)
        {
            environment[key] = value;
        }

        return ChildProcess.Start(name, "dotnet", [Dll(_buildDirectory!, project)], environment);
    }

    private static string Dll(string buildDirectory, string project) =>
        Path.Combine(buildDirectory.Replace("{project}", project, StringComparison.Ordinal), project + ".dll");

    /// <summary>Beside this benchmark's own build: &lt;repo&gt;/{project}/bin/&lt;configuration&gt;/&lt;framework&gt;.</summary>
    private static string DefaultBuildDirectory()
    {
        try
        {
            return BuildOutput.DirectoryPattern();
        }
        catch (InvalidOperationException)
        {
            throw new InvalidOperationException("TaskQueue.sln was not found above this build; pass --build-dir.");
        }
    }

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
