using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// Real broker and worker processes on loopback around a real Redis. Tests talk to the brokers with raw gRPC
/// stubs and read the ledger from Redis. Leases default to the production 30 s: CI machines stall for
/// seconds at a time (a 6 s stall expired every 3 s lease of a healthy worker once), so only a test about
/// expiry asks for a short one. Reaping, backoff and the disconnect grace stay fast. Security is on, as in
/// production: the brokers accept the cluster's own API keys (<see cref="Credentials"/>), its clients and raw
/// streams carry the all-scopes key, its worker processes the consume key.
/// </summary>
internal sealed class TaskQueueCluster : IAsyncDisposable
{
    private readonly List<ChildProcess> _processes = [];
    private readonly List<GrpcChannel> _channels = [];
    private readonly Dictionary<string, string> _brokerSettings;

    private TaskQueueCluster(ITestRedis redis, Dictionary<string, string> brokerSettings, TestCredentials credentials)
    {
        Redis = redis;
        _brokerSettings = brokerSettings;
        Credentials = credentials;
        Queue = "e2e-" + Guid.NewGuid().ToString("N")[..10];
        Store = new RedisTaskStore(redis.Connection, Options.Create(new TaskStoreOptions()), new RedisClockShift());
    }

    /// <summary>The Redis the brokers use: a single server, or a Redis Cluster (<see cref="RedisCluster"/>).</summary>
    public ITestRedis Redis { get; }

    /// <summary>The keys the brokers accept: <see cref="TestCredentials.AdminKey"/> (every scope) and <see cref="TestCredentials.WorkerKey"/> (consume).</summary>
    public TestCredentials Credentials { get; }

    /// <summary>The all-scopes key the cluster's own clients send (CLI: --api-key, client options: ApiKey).</summary>
    public string AdminKey => Credentials.AdminKey;

    /// <summary>A queue of this cluster's own.</summary>
    public string Queue { get; }

    /// <summary>The store over the same Redis: the ledger the tests check.</summary>
    public RedisTaskStore Store { get; }

    public List<Broker> Brokers { get; } = [];

    public static async Task<TaskQueueCluster> StartAsync(
        ITestRedis? redis = null, TimeSpan? lease = null, IReadOnlyDictionary<string, string>? brokerSettings = null)
    {
        var credentials = new TestCredentials();
        var settings = new Dictionary<string, string>(credentials.BrokerSettings())
        {
            ["TaskQueue__Broker__LeaseDuration"] = (lease ?? TimeSpan.FromSeconds(30)).ToString(),
            ["TaskQueue__Broker__DisconnectGrace"] = "00:00:01",
            ["TaskQueue__Broker__ReapInterval"] = "00:00:00.200",
            ["TaskQueue__Broker__QuarantineThreshold"] = "2",
            ["TaskQueue__Store__BackoffInitial"] = "00:00:00.100",
            ["TaskQueue__Store__BackoffMax"] = "00:00:00.500",
            // Every test's queues live in the one shared Redis for the whole run: the production cap (1,000) is for one
            // deployment, not for a test run. The tests of the cap set their own.
            ["TaskQueue__Limits__MaxQueues"] = "100000",
        };
        foreach (var (key, value) in brokerSettings ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return new TaskQueueCluster(redis ?? await RedisServer.Shared, settings, credentials);
    }

    /// <summary>Starts a broker (on fresh ports, or the ports of an earlier one being restarted) and waits until healthy.</summary>
    public async Task<Broker> StartBrokerAsync(Broker? restartOf = null)
    {
        var httpPort = restartOf?.HttpPort ?? RedisServer.FreePort();
        var grpcPort = restartOf?.GrpcPort ?? RedisServer.FreePort();
        var environment = new Dictionary<string, string>(_brokerSettings)
        {
            ["ConnectionStrings__redis"] = Redis.ConnectionString,
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{grpcPort}",
        };
        var process = ChildProcess.StartService("TaskQueue.Broker", $"broker-{httpPort}", environment);
        _processes.Add(process);
        var broker = new Broker(process, httpPort, grpcPort);
        if (restartOf is not null)
        {
            Brokers[Brokers.IndexOf(restartOf)] = broker;
        }
        else
        {
            Brokers.Add(broker);
        }

        using var http = new HttpClient(); // /health is open: no credentials
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri($"{broker.HttpAddress}/health"))).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(30),
            () => $"broker did not become healthy:\n{process.RecentOutput}");
        return broker;
    }

    public ChildProcess StartWorker(string workerId, int concurrency = 4, Broker? broker = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var target = broker ?? Brokers[0];
        var environment = new Dictionary<string, string>
        {
            ["Worker__BrokerAddress"] = target.GrpcAddress,
            ["Worker__Queues"] = Queue,
            ["Worker__Concurrency"] = concurrency.ToString(),
            ["Worker__WorkerId"] = workerId,
            ["Worker__DrainTimeout"] = "00:00:05",
            ["TaskQueue__ApiKey"] = Credentials.WorkerKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var process = ChildProcess.StartService("TaskQueue.WorkerService", workerId, environment);
        _processes.Add(process);
        return process;
    }

    /// <summary>Waits until every named worker shows as connected (idle or busy) in GET /workers.</summary>
    public Task WaitForWorkersAsync(params string[] workerIds) =>
        Eventually.TrueAsync(
            async () =>
            {
                var workers = await GetWorkersAsync();
                return workerIds.All(id => workers.TryGetValue(id, out var w) && w.GetProperty("status").GetString() is WorkerStatuses.Idle or WorkerStatuses.Busy);
            },
            TimeSpan.FromSeconds(30),
            () => "workers did not connect:\n" + string.Join("\n---\n", _processes.Select(p => p.Name + ":\n" + p.RecentOutput)));

    /// <summary>Raw task-service stubs on a channel that sends the all-scopes key (or <paramref name="key"/>; none for null when <paramref name="anonymous"/>).</summary>
    public TaskService.TaskServiceClient Client(Broker? broker = null, string? key = null, bool anonymous = false) =>
        new(Channel(broker, anonymous ? null : key ?? AdminKey));

    /// <summary>Raw worker-stream stubs on a channel that sends the all-scopes key (or <paramref name="key"/>; none for null when <paramref name="anonymous"/>).</summary>
    public Protocol.V1.WorkerService.WorkerServiceClient WorkerClient(Broker? broker = null, string? key = null, bool anonymous = false) =>
        new(Channel(broker, anonymous ? null : key ?? AdminKey));

    /// <summary>A channel to the broker that sends <paramref name="key"/> (none for null), disposed with the cluster.</summary>
    public GrpcChannel Channel(Broker? broker, string? key)
    {
        var channel = TestCredentials.Channel((broker ?? Brokers[0]).GrpcAddress, key);
        _channels.Add(channel);
        return channel;
    }

    public async Task<Dictionary<string, JsonElement>> GetWorkersAsync(Broker? broker = null)
    {
        using var http = TestCredentials.Http(AdminKey);
        return (await http.GetFromJsonAsync<Dictionary<string, JsonElement>>(new Uri($"{(broker ?? Brokers[0]).HttpAddress}/workers")))!;
    }

    public async Task<JsonElement> GetMetricsAsync(Broker? broker = null)
    {
        using var http = TestCredentials.Http(AdminKey);
        return await http.GetFromJsonAsync<JsonElement>(new Uri($"{(broker ?? Brokers[0]).HttpAddress}/metrics"));
    }

    public TaskSpec Task(string type, string payload = "", int maxAttempts = 0) =>
        new() { Queue = Queue, Type = type, Payload = Google.Protobuf.ByteString.CopyFromUtf8(payload), MaxAttempts = maxAttempts };

    /// <summary>Submits in batches; returns the task ids.</summary>
    public async Task<List<string>> SubmitAsync(IEnumerable<TaskSpec> tasks, Broker? broker = null)
    {
        var client = Client(broker);
        var ids = new List<string>();
        foreach (var chunk in tasks.Chunk(500))
        {
            var response = await client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { chunk } });
            ids.AddRange(response.Results.Select(r => r.TaskId));
        }

        return ids;
    }

    /// <summary>Waits until every task is final; returns the final snapshots.</summary>
    public async Task<List<TaskSnapshot>> WaitAllFinalAsync(IReadOnlyList<string> ids, TimeSpan timeout)
    {
        var parsed = ids.Select(TaskId.Parse).ToList();
        List<TaskSnapshot> snapshots = [];
        await Eventually.TrueAsync(
            async () =>
            {
                snapshots = [.. (await System.Threading.Tasks.Task.WhenAll(parsed.Select(id => Store.GetAsync(id)))).Select(s => s!)];
                return snapshots.All(s => s.IsFinal);
            },
            timeout,
            () =>
            {
                var pending = snapshots.Where(s => !s.IsFinal).ToList();
                return $"{pending.Count} of {ids.Count} tasks not final (e.g. {string.Join(", ", pending.Take(3).Select(p => $"{p.Id} {p.State} attempt {p.Attempt} worker {p.WorkerId}"))})\n"
                       + string.Join("\n---\n", _processes.Select(p => p.Name + (p.HasExited ? " (exited)" : "") + ":\n" + p.RecentOutput));
            });
        return snapshots;
    }

    public string Diagnostics() =>
        string.Join("\n---\n", _processes.Select(p => p.Name + (p.HasExited ? " (exited)" : "") + ":\n" + p.RecentOutput));

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        await System.Threading.Tasks.Task.WhenAll(_processes.Select(p => p.DisposeAsync().AsTask()));
    }

    public sealed record Broker(ChildProcess Process, int HttpPort, int GrpcPort)
    {
        public string HttpAddress => $"http://127.0.0.1:{HttpPort}";

        public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";
    }
}
