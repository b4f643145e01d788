using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreTaskSnapshot = TaskQueue.Broker.Storage.TaskSnapshot;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// The whole system as TaskQueue.AppHost defines it — Redis (a local redis-server resource, or with
/// <c>Redis:Mode=cluster</c> a local cluster), broker, worker
/// replicas — started under Aspire's orchestrator by Aspire.Hosting.Testing, with security on. Tests talk to the broker
/// the way an operator does (raw gRPC stubs and GET /metrics with the AppHost's operator key) and read the ledger from
/// the same Redis (with its password, from the Redis resource's connection string).
/// </summary>
internal sealed class TaskQueueApp : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    /// <summary>The queue the workers take work from by default, and the demo client's.</summary>
    public const string Queue = "default";

    /// <summary>The AppHost's TaskQueue resource (TaskQueue.Hosting's AddTaskQueue), its broker and its Redis.</summary>
    public const string TaskQueueName = "taskqueue";
    public const string BrokerName = "taskqueue-broker-1";
    public const string RedisName = "taskqueue-redis";

    private readonly DistributedApplication _app;
    private readonly ConnectionMultiplexer _redis;
    private readonly GrpcChannel _channel;
    private readonly HttpClient _http;
    private readonly string _dataDirectory;
    private readonly ResourceStates _states;

    private TaskQueueApp(DistributedApplication app, ResourceStates states, ConnectionMultiplexer redis, string dataDirectory, string adminKey)
    {
        _app = app;
        _states = states;
        _redis = redis;
        _dataDirectory = dataDirectory;
        Store = new RedisTaskStore(redis, Options.Create(new TaskStoreOptions()), new RedisClockShift());
        // As the operator: the AppHost's operator key (submit, read, admin on every queue) on every call.
        _channel = GrpcChannel.ForAddress(app.GetEndpoint(BrokerName, "grpc"));
        Tasks = new TaskService.TaskServiceClient(_channel.Intercept(headers =>
        {
            headers.Add("Authorization", $"Bearer {adminKey}");
            return headers;
        }));
        _http = new HttpClient { BaseAddress = app.GetEndpoint(BrokerName, "http"), Timeout = TimeSpan.FromSeconds(10) };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminKey);
    }

    /// <summary>From CreateAsync to a healthy broker with every worker replica connected.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>The broker's TaskService, through the "grpc" endpoint.</summary>
    public TaskService.TaskServiceClient Tasks { get; }

    /// <summary>The ledger: the broker's own store over the app's Redis.</summary>
    public RedisTaskStore Store { get; }

    /// <summary>The app's Redis (a cluster's every node once discovered), with the password the brokers have.</summary>
    public ConnectionMultiplexer Redis => _redis;

    /// <summary>The orchestrator's latest state of a resource of one instance (e.g. "Running").</summary>
    public string? StateOf(string resourceName) => _states.Of(resourceName).SingleOrDefault()?.Snapshot.State?.Text;

    /// <summary>
    /// Starts the AppHost with <paramref name="workers"/> worker replicas plus any AppHost settings (e.g.
    /// "TaskQueue:Broker:DisconnectGrace"), and waits until the broker is healthy and every replica is connected to
    /// it. With <paramref name="demo"/> the AppHost's demo client runs too, as it does by default.
    /// </summary>
    public static async Task<TaskQueueApp> StartAsync(int workers, IReadOnlyDictionary<string, string>? settings = null, bool demo = false)
    {
        var clock = Stopwatch.StartNew();
        var dataDirectory = Directory.CreateTempSubdirectory("taskqueue-apphost-redis-").FullName;
        var args = new List<string>
        {
            $"--Workers={workers}",
            $"--Demo={demo}",
            "--Redis:Mode=executable",
            $"--Redis:DataDirectory={dataDirectory}",
            "--Worker:DrainTimeout=00:00:02",
            // The services' console output stays in the resource logs (see DiagnosticsAsync), out of the test output.
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks=None",
        };
        args.AddRange((settings ?? new Dictionary<string, string>()).Select(setting => $"--{setting.Key}={setting.Value}"));

        using var timeout = new CancellationTokenSource(StartTimeout);
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.TaskQueue_AppHost>([.. args], timeout.Token);

        // No dashboard here, so nothing listens on the OTLP endpoint Aspire hands the services: without this, each
        // service spends its exporter's 10 s timeout flushing at shutdown, and the orchestrator's stop (used by the
        // broker restart) gives up first.
        foreach (var service in builder.Resources.Where(r => r is ProjectResource or TaskQueueBrokerResource).Cast<IResourceWithEnvironment>())
        {
            builder.CreateResourceBuilder(service).WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", "");
        }

        var app = await builder.BuildAsync(timeout.Token);
        var states = ResourceStates.Watch(app);
        TaskQueueApp? started = null;
        try
        {
            await app.StartAsync(timeout.Token);
            await app.ResourceNotifications.WaitForResourceHealthyAsync(TaskQueueName, timeout.Token);
            var redis = await ConnectRedisAsync(app, timeout.Token);
            started = new TaskQueueApp(app, states, redis, dataDirectory, await AdminKeyAsync(app, timeout.Token));
            await started.WaitForConnectedWorkersAsync(workers, StartTimeout - clock.Elapsed);
            started.StartupTime = clock.Elapsed;
            return started;
        }
        catch
        {
            if (started is not null)
            {
                await started.DisposeAsync();
            }
            else
            {
                await states.DisposeAsync();
                await app.DisposeAsync();
            }

            throw;
        }
    }

    /// <summary>
    /// The app's Redis, with the password from its connection string; fails at once, saying why, when Redis refuses it
    /// (rather than on the first command).
    /// </summary>
    private static async Task<ConnectionMultiplexer> ConnectRedisAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var connectionString = (await app.GetConnectionStringAsync(RedisName, cancellationToken))!;
        var server = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == RedisName) switch
        {
            RedisServerResource single => single,
            RedisClusterResource cluster => cluster.Nodes[0], // every node has the same password file
            var other => throw new InvalidOperationException($"'{RedisName}' is a {other.GetType().Name}, not a Redis the AppHost runs."),
        };
        var required = await File.ReadAllTextAsync(Path.Combine(server.WorkingDirectory, RedisServerResource.PasswordFileName), cancellationToken);
        var options = ConfigurationOptions.Parse(connectionString);
        Assert.True(
            !string.IsNullOrEmpty(options.Password) && required.Contains($"\"{options.Password}\"", StringComparison.Ordinal),
            "the Redis connection string's password is not the one redis-server was started with");
        options.AbortOnConnectFail = false;
        var redis = await ConnectionMultiplexer.ConnectAsync(options);
        await redis.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        return redis;
    }

    /// <summary>The operator key's value, read from the app model's parameter (what the dashboard's parameter view shows).</summary>
    private static async Task<string> AdminKeyAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var taskQueue = app.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<TaskQueueResource>().Single(r => r.Name == TaskQueueName);
        return await taskQueue.AdminKeyParameter.GetValueAsync(cancellationToken)
               ?? throw new InvalidOperationException("The operator key parameter has no value.");
    }

    /// <summary>A load of the built-in task types: echo, short sleeps, a little CPU, and some that fail once then succeed.</summary>
    public static IEnumerable<TaskSpec> MixedLoad(int count, string queue = Queue) =>
        Enumerable.Range(0, count).Select(i => (i % 10) switch
        {
            0 => Spec("fail", "1", queue),
            1 or 2 or 3 => Spec("sleep", (10 + (i % 4 * 10)).ToString(CultureInfo.InvariantCulture), queue),
            4 => Spec("cpu", "2000", queue),
            _ => Spec("echo", $"task {i}", queue),
        });

    public static TaskSpec Spec(string type, string payload, string queue = Queue) =>
        new() { Queue = queue, Type = type, Payload = Google.Protobuf.ByteString.CopyFromUtf8(payload) };

    /// <summary>Submits in batches of 500; returns the task ids in order.</summary>
    public async Task<List<string>> SubmitAsync(IEnumerable<TaskSpec> tasks)
    {
        var ids = new List<string>();
        foreach (var chunk in tasks.Chunk(500))
        {
            var response = await Tasks.SubmitBatchAsync(
                new SubmitBatchRequest { Tasks = { chunk } }, deadline: DateTime.UtcNow.AddSeconds(30));
            ids.AddRange(response.Results.Select(r => r.TaskId));
        }

        return ids;
    }

    /// <summary>
    /// Waits (polling Redis, so a broker restart does not get in the way) until every task is final, then
    /// returns the final snapshots from the ledger.
    /// </summary>
    public async Task<List<StoreTaskSnapshot>> WaitAllFinalAsync(IReadOnlyList<string> ids, TimeSpan timeout, string queue = Queue)
    {
        await Eventually.TrueAsync(
            async () =>
            {
                var counts = await Store.GetCountsAsync(queue);
                return counts.Ready + counts.Leased + counts.Scheduled == 0 && counts.Completed + counts.DeadLettered >= ids.Count;
            },
            timeout,
            () => $"queue {queue}: {Describe(Store.GetCountsAsync(queue).GetAwaiter().GetResult())}\n{DiagnosticsAsync().GetAwaiter().GetResult()}");
        return await SnapshotsAsync(ids);
    }

    public async Task<List<StoreTaskSnapshot>> SnapshotsAsync(IReadOnlyList<string> ids) =>
        [.. (await Task.WhenAll(ids.Select(TaskId.Parse).Select(id => Store.GetAsync(id)))).Select(s => s!)];

    /// <summary>The queue's depth and lifetime counters, from the ledger.</summary>
    public Task<QueueCounts> CountsAsync(string queue = Queue) => Store.GetCountsAsync(queue);

    /// <summary>GET /metrics on the broker's "http" endpoint.</summary>
    public async Task<JsonElement> GetMetricsAsync() => await _http.GetFromJsonAsync<JsonElement>(new Uri("/metrics", UriKind.Relative));

    /// <summary>GET /workers: worker id → status, for workers the broker has not written off as disconnected.</summary>
    public async Task<Dictionary<string, JsonElement>> GetLiveWorkersAsync()
    {
        var all = await _http.GetFromJsonAsync<Dictionary<string, JsonElement>>(new Uri("/workers", UriKind.Relative));
        return all!.Where(w => w.Value.GetProperty("status").GetString() is not "disconnected")
            .ToDictionary(w => w.Key, w => w.Value);
    }

    /// <summary>Waits until exactly <paramref name="count"/> workers are connected (idle or busy).</summary>
    public Task WaitForConnectedWorkersAsync(int count, TimeSpan timeout) =>
        Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    var workers = await GetLiveWorkersAsync();
                    return workers.Count(w => w.Value.GetProperty("status").GetString() is "idle" or "busy") == count;
                }
                catch (HttpRequestException)
                {
                    return false; // the broker is (re)starting
                }
            },
            timeout,
            () => $"expected {count} connected workers\n{DiagnosticsAsync().GetAwaiter().GetResult()}");

    /// <summary>The worker replicas as the orchestrator sees them: replica id, state and the launcher's process id.</summary>
    public IReadOnlyList<Replica> WorkerReplicas() =>
        [.. _states.Of("worker").Select(state =>
        {
            var pid = state.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
            return new Replica(state.ResourceId, state.Snapshot.State?.Text, pid is null ? null : Convert.ToInt32(pid, CultureInfo.InvariantCulture));
        })];

    /// <summary>Waits until a resource instance (by resource name) reaches a terminal state; returns that snapshot.</summary>
    public async Task<ResourceEvent> WaitForFinishedAsync(string resourceName, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            return await _app.ResourceNotifications.WaitForResourceAsync(
                resourceName, e => KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), cancel.Token);
        }
        catch (OperationCanceledException ex)
        {
            throw new TimeoutException($"'{resourceName}' did not finish within {timeout}.\n{await DiagnosticsAsync()}", ex);
        }
    }

    /// <summary>The console output of a resource instance so far.</summary>
    public async Task<List<string>> LogsAsync(string resourceId)
    {
        var lines = new List<string>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await foreach (var batch in _app.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resourceId).WithCancellation(timeout.Token))
            {
                lines.AddRange(batch.Select(line => line.Content));
            }
        }
        catch (OperationCanceledException)
        {
        }

        return lines;
    }

    /// <summary>Starts a stopped or exited replica of a resource again (the dashboard's Start command).</summary>
    public async Task StartReplicaAsync(string resourceName, string replicaId, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _app.ResourceNotifications.WaitForResourceAsync(
            resourceName, e => e.ResourceId == replicaId && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), cancel.Token);
        var result = await _app.ResourceCommands.ExecuteCommandAsync(replicaId, KnownResourceCommands.StartCommand, cancel.Token);
        Assert.True(result.Success, $"replica {replicaId} did not start again: {result.Message}");
    }

    /// <summary>
    /// Stops or starts replicas of the worker resource (the dashboard's Stop and Start commands) until exactly
    /// <paramref name="count"/> run and are connected to the broker.
    /// </summary>
    public async Task ScaleWorkersAsync(int count, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        using var cancel = new CancellationTokenSource(timeout);
        var replicas = _states.Of("worker").ToList();
        var running = replicas.Where(r => r.Snapshot.State?.Text == KnownResourceStates.Running).ToList();
        var (command, targets) = running.Count > count
            ? (KnownResourceCommands.StopCommand, running.Skip(count))
            : (KnownResourceCommands.StartCommand, replicas.Where(r => KnownResourceStates.TerminalStates.Contains(r.Snapshot.State?.Text)).Take(count - running.Count));

        // A stop the orchestrator gives up waiting for still ends (the worker drains, then exits): the connected
        // count below is what counts.
        await Task.WhenAll(targets.Select(r => _app.ResourceCommands.ExecuteCommandAsync(r.ResourceId, command, cancel.Token)));
        await WaitForConnectedWorkersAsync(count, timeout - clock.Elapsed);
    }

    /// <summary>
    /// SIGKILLs the process of a connected worker (ids are "{machine}-{pid}-{random}"), after checking that the
    /// process belongs to one of this app's worker replicas. Returns the replica it belonged to.
    /// </summary>
    public async Task<Replica> KillWorkerAsync(string workerId)
    {
        var pid = int.Parse(workerId.Split('-')[^2], CultureInfo.InvariantCulture);
        var parent = await ParentProcessIdAsync(pid);
        var replica = WorkerReplicas().SingleOrDefault(r => r.LauncherPid == pid || r.LauncherPid == parent)
                      ?? throw new InvalidOperationException($"Process {pid} (parent {parent}) is not one of this app's worker replicas.");
        using var process = Process.GetProcessById(pid);
        process.Kill(); // SIGKILL: no drain, no goodbye
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return replica;
    }

    /// <summary>Runs one of a resource's commands (a dashboard button), as the dashboard does once the user confirmed.</summary>
    public async Task<ExecuteCommandResult> ExecuteCommandAsync(string resourceName, string commandName, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var resource = _app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == resourceName);
        return await _app.ResourceCommands.ExecuteCommandAsync(resource, commandName, cancel.Token);
    }

    /// <summary>
    /// Restarts the broker resource through the orchestrator: the dashboard's Restart command. When the stop
    /// outlasts the command's own patience (about 20 s of retries, easily spent on a loaded machine), waits for
    /// the stop to finish and starts it again.
    /// </summary>
    public async Task RestartBrokerAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var broker = _app.Services.GetRequiredService<DistributedApplicationModel>().Resources.Single(r => r.Name == BrokerName);
        try
        {
            var result = await _app.ResourceCommands.ExecuteCommandAsync(broker, KnownResourceCommands.RestartCommand, cancel.Token);
            if (!result.Success)
            {
                await _app.ResourceNotifications.WaitForResourceAsync(BrokerName, KnownResourceStates.TerminalStates, cancel.Token);
                result = await _app.ResourceCommands.ExecuteCommandAsync(broker, KnownResourceCommands.StartCommand, cancel.Token);
                Assert.True(result.Success, $"the broker did not start again: {result.Message}");
            }

            await _app.ResourceNotifications.WaitForResourceHealthyAsync(BrokerName, cancel.Token);
        }
        catch (OperationCanceledException ex)
        {
            throw new TimeoutException(
                $"The broker did not restart within {timeout}: {ex.Message}\n{await ProcessesAsync()}\n{await DiagnosticsAsync()}", ex);
        }
    }

    /// <summary>The TaskQueue, orchestrator and Redis processes on this machine (ps), for failure messages.</summary>
    public static async Task<string> ProcessesAsync() =>
        string.Join('\n', (await PsAsync("-eo", "pid,ppid,stat,etimes,pcpu,args")).Split('\n')
            .Where(line => line.Contains("TaskQueue", StringComparison.Ordinal) || line.Contains("dcp", StringComparison.Ordinal) || line.Contains("redis", StringComparison.Ordinal))
            .Select(line => line.Length > 200 ? line[..200] : line));

    /// <summary>Every resource's state and the tail of its console output, for failure messages.</summary>
    public async Task<string> DiagnosticsAsync()
    {
        var text = new StringBuilder();
        foreach (var state in _states.All())
        {
            text.Append(CultureInfo.InvariantCulture, $"--- {state.ResourceId}: {state.Snapshot.State?.Text} exit={state.Snapshot.ExitCode}\n");
            var lines = await LogsAsync(state.ResourceId);
            text.AppendJoin('\n', lines.TakeLast(15)).Append('\n');
        }

        return text.ToString();
    }

    public static string Describe(QueueCounts c) =>
        $"ready {c.Ready}, leased {c.Leased}, scheduled {c.Scheduled}, completed {c.Completed}, dead {c.DeadLettered}, submitted {c.Submitted}, retried {c.Retried}";

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        _http.Dispose();
        await _redis.DisposeAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            try
            {
                await _app.StopAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _states.DisposeAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<int?> ParentProcessIdAsync(int pid) =>
        int.TryParse((await PsAsync("-o", "ppid=", "-p", pid.ToString(CultureInfo.InvariantCulture))).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parent)
            ? parent
            : null;

    private static async Task<string> PsAsync(params string[] args)
    {
        var info = new ProcessStartInfo("ps") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var ps = Process.Start(info)!;
        var output = await ps.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await ps.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return output;
    }

    public sealed record Replica(string Id, string? State, int? LauncherPid);

    /// <summary>The latest orchestrator snapshot of every resource instance (replicas each have their own id).</summary>
    private sealed class ResourceStates : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, ResourceEvent> _latest = new(StringComparer.Ordinal);
        private readonly CancellationTokenSource _stop = new();
        private Task _watching = Task.CompletedTask;

        public static ResourceStates Watch(DistributedApplication app)
        {
            var states = new ResourceStates();
            states._watching = Task.Run(async () =>
            {
                try
                {
                    await foreach (var update in app.ResourceNotifications.WatchAsync(states._stop.Token))
                    {
                        states._latest[update.ResourceId] = update;
                    }
                }
                catch (OperationCanceledException)
                {
                }
            });
            return states;
        }

        public IEnumerable<ResourceEvent> Of(string resourceName) =>
            _latest.Values.Where(e => e.Resource.Name == resourceName).OrderBy(e => e.ResourceId, StringComparer.Ordinal);

        public IEnumerable<ResourceEvent> All() => _latest.Values.OrderBy(e => e.ResourceId, StringComparer.Ordinal);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _watching.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _stop.Dispose();
        }
    }
}
