using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace TaskQueue.Tests.Faults;

/// <summary>How a fault run is set up.</summary>
internal sealed record FaultRunOptions
{
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(3);

    public int Brokers { get; init; } = 1;

    /// <summary>Null: the shared Redis. Otherwise a Redis of the run's own, started with these extra arguments.</summary>
    public IReadOnlyList<string>? OwnRedis { get; init; }

    /// <summary>True: the brokers use the shared test Redis Cluster (<see cref="RedisCluster"/>) instead of a single Redis.</summary>
    public bool OnCluster { get; init; }

    public IReadOnlyDictionary<string, string>? BrokerSettings { get; init; }

    /// <summary>A Redis Sentinel topology of the run's own (primary, replica, three sentinels); the brokers connect through the sentinels.</summary>
    public bool Sentinel { get; init; }
}

/// <summary>A worker process of a run; its execution log is named after its id.</summary>
internal sealed record FaultWorker(string Id, ChildProcess Process, int Concurrency, TaskQueueCluster.Broker Broker);

/// <summary>A worker of a run as GET /workers shows it.</summary>
internal sealed record WorkerView(string Id, string Status, string Broker, DateTimeOffset? QuarantinedUntil);

/// <summary>A fault injected at a moment, into a worker (the victim) or into the infrastructure (which recovers later).</summary>
internal sealed class FaultEvent(string kind, DateTimeOffset at, string? victim)
{
    public string Kind { get; } = kind;

    public DateTimeOffset At { get; } = at;

    public string? Victim { get; } = victim;

    /// <summary>When the broker or Redis was back.</summary>
    public DateTimeOffset? EndedAt { get; set; }
}

/// <summary>
/// One fault scenario on real processes: Redis, brokers and workers on loopback, a submission load, faults with
/// their times, and at the end the ledger built from what clients were told, what Redis holds and what the
/// workers' execution logs say ran.
/// </summary>
internal sealed class FaultRun : IAsyncDisposable
{
    private readonly FaultReport _report;
    private readonly ITestOutputHelper _output;
    private readonly IReadOnlyList<string>? _redisArguments;
    private readonly List<RedisServer> _ownRedis = [];
    private readonly string _logDirectory = Directory.CreateTempSubdirectory("taskqueue-faults-").FullName;
    private readonly ConcurrentQueue<FaultEvent> _faults = new();
    private readonly ConcurrentQueue<FaultWorker> _workers = new();
    private readonly List<KeyValuePair<string, string>> _notes = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly StallWatch _stalls = new();
    private int _workerNumber;

    private FaultRun(string scenario, FaultReport report, ITestOutputHelper output, TaskQueueCluster cluster, RedisServer? ownRedis, IReadOnlyList<string>? redisArguments)
    {
        Scenario = scenario;
        _report = report;
        _output = output;
        Cluster = cluster;
        Redis = cluster.Redis as RedisServer;
        Backend = cluster.Redis;
        _redisArguments = redisArguments;
        if (ownRedis is not null)
        {
            _ownRedis.Add(ownRedis);
        }

        Load = new SubmissionLoad(cluster);
        Store = cluster.Store;
    }

    public string Scenario { get; }

    public TaskQueueCluster Cluster { get; }

    /// <summary>The Redis now running (a restart replaces it); null when the run is on a Redis Cluster (<see cref="Backend"/>).</summary>
    public RedisServer? Redis { get; private set; }

    /// <summary>The Redis the brokers use: <see cref="Redis"/>, or the shared test Redis Cluster (<see cref="FaultRunOptions.OnCluster"/>).</summary>
    public ITestRedis Backend { get; private set; }

    private RedisServer SingleRedis => Redis ?? throw new InvalidOperationException("This fault needs a single Redis; the run is on a Redis Cluster.");

    public string Queue => Cluster.Queue;

    /// <summary>The store over the Redis now running: the ledger reads it.</summary>
    public RedisTaskStore Store { get; private set; }

    public SubmissionLoad Load { get; }

    /// <summary>The lease the brokers grant; a worker renews it every third of it.</summary>
    public TimeSpan Lease { get; private init; }

    /// <summary>
    /// Stalls of the whole machine during the run that outlasted the time a healthy lease has to be renewed in
    /// (two thirds of it): each may have expired the leases of workers no fault touched.
    /// </summary>
    public int LeaseBreakingStalls => _stalls.CountLongerThan(Lease * 2 / 3);

    /// <summary>Read afresh from the execution logs.</summary>
    public ExecutionHistory Executions => ExecutionHistory.Read(_logDirectory);

    public IReadOnlyCollection<FaultWorker> Workers => _workers;

    public IEnumerable<FaultWorker> LiveWorkers => _workers.Where(w => !w.Process.HasExited);

    public static async Task<FaultRun> StartAsync(string scenario, FaultReport report, ITestOutputHelper output, FaultRunOptions? options = null)
    {
        options ??= new FaultRunOptions();
        var ownRedis = options.Sentinel ? await RedisServer.StartSentinelAsync()
            : options.OwnRedis is { } arguments ? await RedisServer.StartAsync(null, null, [.. arguments]) : null;
        ITestRedis? redis = options.OnCluster ? await RedisCluster.Shared : ownRedis;
        var cluster = await TaskQueueCluster.StartAsync(redis, options.Lease, options.BrokerSettings);
        var run = new FaultRun(scenario, report, output, cluster, ownRedis, options.OwnRedis) { Lease = options.Lease };
        // Started side by side; each registers itself before its first await, so the list keeps their order.
        await Task.WhenAll(Enumerable.Range(0, options.Brokers).Select(_ => cluster.StartBrokerAsync()));

        return run;
    }

    public FaultWorker StartWorker(string role, int concurrency = 4, TaskQueueCluster.Broker? broker = null, IReadOnlyDictionary<string, string>? settings = null)
    {
        var id = $"{role}{Interlocked.Increment(ref _workerNumber)}-{Queue}";
        var environment = new Dictionary<string, string>(settings ?? new Dictionary<string, string>())
        {
            ["Worker__ExecutionLog"] = Path.Combine(_logDirectory, id + ".jsonl"),
        };
        var target = broker ?? Cluster.Brokers[0];
        var worker = new FaultWorker(id, Cluster.StartWorker(id, concurrency, target, environment), concurrency, target);
        _workers.Enqueue(worker);
        return worker;
    }

    public Task WaitForWorkersAsync(params FaultWorker[] workers) => Cluster.WaitForWorkersAsync([.. workers.Select(w => w.Id)]);

    /// <summary>This run's workers (the registry is shared with every other test of the Redis) as a live broker lists them.</summary>
    public async Task<List<WorkerView>> WorkersAsync(TaskQueueCluster.Broker? broker = null)
    {
        var listed = await Cluster.GetWorkersAsync(broker ?? Cluster.Brokers.First(b => !b.Process.HasExited));
        return [.. listed
            .Where(w => w.Key.EndsWith(Queue, StringComparison.Ordinal))
            .Select(w => new WorkerView(
                w.Key,
                w.Value.GetProperty("status").GetString()!,
                w.Value.GetProperty("broker").GetString()!,
                w.Value.TryGetProperty("quarantined_until", out var until) && until.ValueKind == System.Text.Json.JsonValueKind.String ? until.GetDateTimeOffset() : null))];
    }

    /// <summary>The id a broker process goes by (machine and process id).</summary>
    public static string BrokerId(TaskQueueCluster.Broker broker) => $"{Environment.MachineName}-{broker.Process.Pid}";

    /// <summary>A row of the ledger for what only this scenario measures.</summary>
    public void Note(string measure, object value) => _notes.Add(new(measure, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? ""));

    public FaultEvent Inject(string kind, FaultWorker? victim = null)
    {
        var fault = new FaultEvent(kind, DateTimeOffset.UtcNow, victim?.Id);
        _faults.Enqueue(fault);
        return fault;
    }

    public static void Ended(FaultEvent fault) => fault.EndedAt = DateTimeOffset.UtcNow;

    public FaultEvent KillWorker(FaultWorker victim) => Signal(victim, "worker SIGKILL", victim.Process.Kill);

    public FaultEvent TerminateWorker(FaultWorker victim) => Signal(victim, "worker SIGTERM", victim.Process.Terminate);

    public FaultEvent FreezeWorker(FaultWorker victim) => Signal(victim, "worker SIGSTOP", victim.Process.Freeze);

    /// <summary>A live worker (matching the filter) that is running a task right now, by its execution log; null if none is.</summary>
    public FaultWorker? BusyWorker(Func<FaultWorker, bool>? filter = null)
    {
        var history = Executions;
        var now = DateTimeOffset.UtcNow;
        return LiveWorkers
            .Where(w => (filter?.Invoke(w) ?? true) && history.RunningOn(w.Id, now).Count > 0)
            .OrderBy(_ => Random.Shared.Next())
            .FirstOrDefault();
    }

    /// <summary>Injects the next fault every <paramref name="interval"/> until the load is done.</summary>
    public static async Task RepeatWhileAsync(Task load, TimeSpan interval, Func<Task> fault)
    {
        while (await Task.WhenAny(load, Task.Delay(interval)) != load)
        {
            await fault();
        }

        await load;
    }

    /// <summary>SIGKILL, then a Redis restarted on the same port and data directory.</summary>
    public async Task<FaultEvent> KillAndRestartRedisAsync(TimeSpan down, Func<Task>? whileDown = null)
    {
        var fault = Inject("Redis SIGKILL");
        var redis = SingleRedis;
        redis.Kill();
        if (whileDown is not null)
        {
            await whileDown();
        }

        await Task.Delay(down);
        var restarted = await RedisServer.StartAsync(redis.DataDirectory, redis.Port, [.. _redisArguments ?? []]);
        _ownRedis.Add(restarted);
        Redis = restarted;
        Backend = restarted;
        Store = new RedisTaskStore(restarted.Connection, Microsoft.Extensions.Options.Options.Create(new TaskStoreOptions()), new RedisClockShift());
        Ended(fault);
        return fault;
    }

    /// <summary>SIGSTOP, and SIGCONT after <paramref name="down"/>: every connection stays open, nothing answers.</summary>
    public async Task<FaultEvent> PauseRedisAsync(TimeSpan down)
    {
        var fault = Inject("Redis SIGSTOP");
        var redis = SingleRedis;
        redis.Freeze();
        try
        {
            await Task.Delay(down);
        }
        finally
        {
            redis.Thaw();
            Ended(fault);
        }

        return fault;
    }

    /// <summary>The system resumed by itself: submits (recorded like any other) until one is acknowledged.</summary>
    public Task SubmitUntilAcknowledgedAsync(TimeSpan timeout) =>
        WaitUntilAsync(async () => (await Load.SubmitAsync([Cluster.Task("echo", "resumed?")])).Count > 0, timeout, "a submit is acknowledged again");

    /// <summary>Polls (<see cref="Eventually"/>, every 100 ms) until true; on timeout fails with the ledger so far.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        try
        {
            await Eventually.TrueAsync(condition, timeout, what, TimeSpan.FromMilliseconds(100));
        }
        catch (FailException timedOut)
        {
            Fail(timedOut.Message, await TryLedgerAsync());
        }
    }

    /// <summary>The tasks as Redis holds them now (null where it holds none).</summary>
    public async Task<TaskSnapshot?[]> SnapshotsAsync(IEnumerable<string> ids) => await Task.WhenAll(ids.Select(id => Store.GetAsync(TaskId.Parse(id))));

    public Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    /// <summary>Waits (bounded) until every acknowledged task is final, then builds, reports and returns the ledger.</summary>
    public async Task<FaultLedger> SettleAsync(TimeSpan? timeout = null)
    {
        await WaitFinalAsync(timeout ?? TimeSpan.FromSeconds(60));
        Note($"machine stalls > {StallWatch.Threshold.TotalSeconds:0} s (past 2/3 of a lease: {LeaseBreakingStalls})", _stalls);
        var ledger = await LedgerAsync();
        _report.Add(ledger, _output);
        return ledger;
    }

    /// <summary>Runs the assertions; a failure carries the ledger (and the processes' output goes to the test output).</summary>
    public void Verify(FaultLedger ledger, Action assertions)
    {
        try
        {
            assertions();
        }
        catch (XunitException ex)
        {
            Fail(ex.Message, ledger);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stalls.Dispose();
        await Cluster.DisposeAsync();
        foreach (var redis in Enumerable.Reverse(_ownRedis))
        {
            await redis.DisposeAsync();
        }

        if (FaultSettings.KeepLogs)
        {
            _output.WriteLine($"execution logs kept in {_logDirectory}");
            return;
        }

        try
        {
            Directory.Delete(_logDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private FaultEvent Signal(FaultWorker victim, string kind, Action send)
    {
        var fault = Inject(kind, victim);
        send();
        return fault;
    }

    private void Fail(string message, FaultLedger? ledger)
    {
        _output.WriteLine(Cluster.Diagnostics());
        throw new XunitException($"{Scenario}: {message}{Environment.NewLine}{Environment.NewLine}{(ledger is null ? "(no ledger: Redis did not answer)" : LedgerTable.Format(ledger))}");
    }

    private async Task<FaultLedger?> TryLedgerAsync()
    {
        try
        {
            var ledger = await LedgerAsync().WaitAsync(TimeSpan.FromSeconds(20));
            _report.Add(ledger, _output);
            return ledger;
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            return null;
        }
    }

    private async Task WaitFinalAsync(TimeSpan timeout)
    {
        var pending = Load.AcknowledgedIds.Select(TaskId.Parse).ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            var snapshots = await Task.WhenAll(pending.Select(id => Store.GetAsync(id)));
            pending = [.. pending.Where((_, i) => snapshots[i] is not { IsFinal: true })];
            if (pending.Count > 0)
            {
                await Task.Delay(250);
            }
        }
    }

    private async Task<FaultLedger> LedgerAsync()
    {
        var (completed, completionsRecorded) = await CompletionsAsync();
        var stored = await StoredTasksAsync();
        var byId = stored.ToDictionary(s => s.Id.ToString(), StringComparer.Ordinal);
        var counts = await Store.GetCountsAsync(Queue);
        var history = Executions;
        var acknowledged = Load.AcknowledgedIds;
        var lost = acknowledged.Where(id => !byId.TryGetValue(id, out var s) || s.State is not (Broker.Storage.TaskState.Completed or Broker.Storage.TaskState.DeadLettered)).ToList();
        var refused = Load.Refused;
        var faults = _faults.ToList();
        var acknowledgedAt = Load.AcknowledgedAt.Order().ToList();
        return new FaultLedger
        {
            Scenario = Scenario,
            Elapsed = _clock.Elapsed,
            Submitted = Load.Attempted,
            Acknowledged = acknowledged.Count,
            Refused = refused.GroupBy(r => StatusName(r.Value), StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            StoredThoughRefused = stored.Count(s => s.IdempotencyKey is { } key && refused.ContainsKey(key)),
            Completed = completed,
            Lost = lost.Count,
            LostExamples = [.. lost.Take(3).Select(id => byId.TryGetValue(id, out var s) ? $"{id} {s.State} attempt {s.Attempt} worker {s.WorkerId}" : $"{id} not in Redis")],
            DeadLettered = stored.Count(s => s.State == Broker.Storage.TaskState.DeadLettered),
            Executions = history.Executions.Count,
            DuplicateExecutions = history.DuplicateExecutions,
            DuplicateCompletionsRecorded = completionsRecorded - completed,
            StaleRejected = counts.StaleRejected,
            FailuresRecorded = counts.Failed,
            Faults = faults.GroupBy(f => f.Kind, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal),
            RedispatchByFault = faults
                .Where(f => f.Victim is not null)
                .GroupBy(f => f.Kind, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyList<TimeSpan>)[.. g.SelectMany(f => history.RedispatchDelays(f.Victim!, f.At))], StringComparer.Ordinal),
            Recovery = [.. faults
                .Where(f => f.EndedAt is not null)
                .Select(f => acknowledgedAt.FirstOrDefault(at => at >= f.EndedAt) - f.EndedAt!.Value)
                .Where(delay => delay >= TimeSpan.Zero)],
            Notes = [.. _notes],
        };
    }

    /// <summary>
    /// Tasks in state completed, and completions the broker counted, in one atomic read: a completion landing
    /// while the ledger is being read cannot pass for a duplicate.
    /// </summary>
    private async Task<(int CompletedTasks, long CompletionsRecorded)> CompletionsAsync()
    {
        const string script = """
            local n = 0
            for _, key in ipairs(redis.call('KEYS', ARGV[1])) do
              if redis.call('HGET', key, 'state') == 'completed' then n = n + 1 end
            end
            return { n, tonumber(redis.call('HGET', KEYS[1], 'completed') or '0') }
            """;
        var reply = (RedisResult[])(await Backend.Connection.GetDatabase().ScriptEvaluateAsync(
            script, [RedisKeys.Stats(Queue)], [RedisKeys.QueuePrefix(Queue) + "t:*"]))!;
        return ((int)reply[0], (long)reply[1]);
    }

    /// <summary>Every task of the run's queue that Redis holds, whoever submitted it.</summary>
    private async Task<List<TaskSnapshot>> StoredTasksAsync()
    {
        var server = Backend.ServerOf(RedisKeys.QueuePrefix(Queue));
        var prefix = RedisKeys.QueuePrefix(Queue) + "t:";
        var ids = new List<TaskId>();
        await foreach (var key in server.KeysAsync(pattern: prefix + "*", pageSize: 1000))
        {
            ids.Add(new TaskId(Queue, ((string)key!)[prefix.Length..]));
        }

        return [.. (await Task.WhenAll(ids.Select(id => Store.GetAsync(id)))).OfType<TaskSnapshot>()];
    }

    /// <summary>UNAVAILABLE rather than Unavailable: as the gRPC specification and the README name codes.</summary>
    private static string StatusName(Grpc.Core.StatusCode code)
    {
        var text = new StringBuilder();
        foreach (var c in code.ToString())
        {
            if (char.IsUpper(c) && text.Length > 0)
            {
                text.Append('_');
            }

            text.Append(char.ToUpperInvariant(c));
        }

        return text.ToString();
    }
}
