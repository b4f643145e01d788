using System.Globalization;

namespace TaskQueue.Testing;

/// <summary>
/// A private Redis Sentinel topology on loopback: a primary, a replica (<c>--replicaof</c>) and three
/// sentinels, each on a free port with its own directory (a sentinel rewrites its config file). Ready once the
/// replica is in sync and every sentinel monitors the primary, knows the replica and the two other sentinels.
/// Tuned for fast failover (a node is down after <see cref="DownAfter"/>). Tests kill the primary
/// (<see cref="KillPrimaryAsync"/>) and wait until the sentinels promoted the replica
/// (<see cref="WaitForFailoverAsync"/>). Disposing kills every process and deletes the directories.
/// </summary>
public sealed class RedisSentinelProcess : IAsyncDisposable
{
    /// <summary>The name the sentinels monitor the primary by (the connection string's <c>serviceName=</c>).</summary>
    public const string DefaultServiceName = "taskqueue";

    /// <summary>
    /// How long a node may not answer before a sentinel counts it down (Sentinel's default: 30 s). Not shorter: at 1 s a
    /// loaded CI machine saw the just-promoted primary counted down while it resynced the restarted node, and failed over twice.
    /// </summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromSeconds(3);

    private const int SentinelCount = 3;
    private const int Quorum = 2;

    private static readonly TimeSpan s_failoverTimeout = TimeSpan.FromSeconds(5);

    private readonly List<RedisServerProcess> _nodes;
    private readonly List<RedisServerProcess> _retired = [];
    private readonly List<Sentinel> _sentinels;
    private readonly IReadOnlyList<string> _extraArguments;

    private RedisSentinelProcess(string serviceName, List<RedisServerProcess> nodes, List<Sentinel> sentinels, IReadOnlyList<string> extraArguments)
    {
        ServiceName = serviceName;
        _nodes = nodes;
        _sentinels = sentinels;
        _extraArguments = extraArguments;
    }

    public string ServiceName { get; }

    /// <summary>The data nodes: the primary as started first, then the replica (roles change on failover: see <see cref="PrimaryAsync"/>).</summary>
    public IReadOnlyList<RedisServerProcess> Nodes => _nodes;

    /// <summary>The sentinels' host:port endpoints.</summary>
    public IReadOnlyList<string> SentinelEndpoints => [.. _sentinels.Select(s => s.Endpoint)];

    /// <summary>The sentinel processes (CPU time, signals).</summary>
    public IReadOnlyList<ChildProcess> SentinelProcesses => [.. _sentinels.Select(s => s.Process)];

    /// <summary>
    /// ConnectionStrings:redis through the sentinels, as StackExchange.Redis reads it: every sentinel, then
    /// <c>serviceName=</c>; the client asks them for the primary and follows a failover.
    /// </summary>
    public string ConnectionString => $"{string.Join(',', SentinelEndpoints)},serviceName={ServiceName}";

    /// <summary>
    /// Starts the primary, the replica and the sentinels, and waits (at most <paramref name="startTimeout"/>, default
    /// 30 s) until the topology is ready. <paramref name="extraArguments"/> go to both data nodes (after the product
    /// settings, e.g. <see cref="RedisServerSettings.NoPersistence"/>).
    /// </summary>
    public static async Task<RedisSentinelProcess> StartAsync(
        string serviceName = DefaultServiceName,
        IEnumerable<string>? extraArguments = null,
        TimeSpan? startTimeout = null,
        CancellationToken cancellationToken = default)
    {
        var executable = FindSentinelExecutable()
            ?? throw new InvalidOperationException(
                "redis-sentinel was not found on PATH. Install it: `sudo apt-get install redis-sentinel` (Debian/Ubuntu) or `brew install redis` (macOS).");
        var deadline = DateTime.UtcNow + (startTimeout ?? TimeSpan.FromSeconds(30));
        var extra = extraArguments?.ToList() ?? [];
        var nodes = new List<RedisServerProcess>();
        var sentinels = new List<Sentinel>();
        var topology = new RedisSentinelProcess(serviceName, nodes, sentinels, extra);
        try
        {
            var primary = await RedisServerProcess.StartAsync(extraArguments: extra, cancellationToken: cancellationToken);
            nodes.Add(primary);
            nodes.Add(await RedisServerProcess.StartAsync(
                extraArguments: [.. extra, "--replicaof", "127.0.0.1", Port(primary)], cancellationToken: cancellationToken));
            await topology.WaitUntilAsync(token => InSyncAsync(nodes[1], token), deadline, "the replica is in sync with the primary", cancellationToken);

            for (var i = 0; i < SentinelCount; i++)
            {
                sentinels.Add(Sentinel.Start(executable, serviceName, primary.Port));
            }

            await topology.WaitUntilAsync(topology.SentinelsAgreeAsync, deadline, "every sentinel monitors the primary with its replica and the other sentinels", cancellationToken);
            return topology;
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// redis-sentinel on PATH (Debian's package: a link to redis-server), else redis-server itself, which runs as a
    /// sentinel when its config file is followed by <c>--sentinel</c>; null when neither is there.
    /// </summary>
    public static string? FindSentinelExecutable()
    {
        var sentinel = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin"])
            .Select(directory => Path.Combine(directory, "redis-sentinel"))
            .FirstOrDefault(File.Exists);
        return sentinel ?? RedisServerProcess.FindExecutable();
    }

    /// <summary>The node the sentinels (a majority of them) name as the primary now, if it is one of <see cref="Nodes"/> and answers as a primary.</summary>
    public async Task<RedisServerProcess?> PrimaryAsync(CancellationToken cancellationToken = default)
    {
        var named = new List<int>();
        foreach (var sentinel in _sentinels)
        {
            if (await TryCallAsync(sentinel.Endpoint, cancellationToken, "SENTINEL", "get-master-addr-by-name", ServiceName) is object?[] { Length: 2 } address
                && int.TryParse(address[1] as string, NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                named.Add(port);
            }
        }

        var majority = named.GroupBy(p => p).FirstOrDefault(g => g.Count() > _sentinels.Count / 2)?.Key;
        var node = _nodes.FirstOrDefault(n => n.Port == majority && !n.Process.HasExited);
        return node is not null && await RoleAsync(node, cancellationToken) == "master" ? node : null;
    }

    /// <summary>SIGKILLs the node that is the primary now and returns it (it stays dead).</summary>
    public async Task<RedisServerProcess> KillPrimaryAsync(CancellationToken cancellationToken = default)
    {
        var primary = await PrimaryAsync(cancellationToken) ?? throw new InvalidOperationException("No node is the primary now.");
        primary.Kill();
        return primary;
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until a majority of the sentinels names another live node than
    /// <paramref name="former"/> as the primary and that node answers as one; returns it.
    /// </summary>
    public async Task<RedisServerProcess> WaitForFailoverAsync(RedisServerProcess former, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        RedisServerProcess? promoted = null;
        await WaitUntilAsync(
            async token => (promoted = await PrimaryAsync(token)) is { } node && node != former,
            DateTime.UtcNow + timeout,
            $"the sentinels promote another node than {former.Endpoint}",
            cancellationToken);
        return promoted!;
    }

    /// <summary>
    /// Starts a killed node again on its port and data directory as a replica of <paramref name="primary"/> (what a
    /// supervisor restarting a crashed primary gets once Sentinel reconfigures it), and waits (at most
    /// <paramref name="timeout"/>) until it is in sync and the sentinels list it; returns it (it replaces the killed one in <see cref="Nodes"/>).
    /// </summary>
    public async Task<RedisServerProcess> RestartAsReplicaAsync(
        RedisServerProcess killed, RedisServerProcess primary, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var index = _nodes.IndexOf(killed);
        if (index < 0 || !killed.Process.HasExited)
        {
            throw new InvalidOperationException($"{killed.Endpoint} is not a killed node of this topology.");
        }

        var deadline = DateTime.UtcNow + timeout;
        var restarted = await RedisServerProcess.StartAsync(
            killed.DataDirectory, killed.Port, [.. _extraArguments, "--replicaof", "127.0.0.1", Port(primary)], cancellationToken: cancellationToken);
        _retired.Add(killed);
        _nodes[index] = restarted;
        await WaitUntilAsync(token => InSyncAsync(restarted, token), deadline, $"the restarted {restarted.Endpoint} is in sync with {primary.Endpoint}", cancellationToken);
        return restarted;
    }

    /// <summary>Kills every sentinel and node and deletes their directories.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var sentinel in _sentinels)
        {
            await sentinel.DisposeAsync();
        }

        foreach (var node in _nodes.Concat(_retired))
        {
            await node.DisposeAsync();
        }
    }

    private static async Task<bool> InSyncAsync(RedisServerProcess replica, CancellationToken cancellationToken)
    {
        var info = await TryCallAsync(replica.Endpoint, cancellationToken, "INFO", "replication") as string ?? "";
        return info.Contains("master_link_status:up", StringComparison.Ordinal)
               && !info.Contains("master_sync_in_progress:1", StringComparison.Ordinal);
    }

    private async Task<bool> SentinelsAgreeAsync(CancellationToken cancellationToken)
    {
        foreach (var sentinel in _sentinels)
        {
            if (await TryCallAsync(sentinel.Endpoint, cancellationToken, "SENTINEL", "master", ServiceName) is not object?[] fields)
            {
                return false;
            }

            var master = Pairs(fields);
            if (master.GetValueOrDefault("num-slaves") != "1"
                || master.GetValueOrDefault("num-other-sentinels") != (SentinelCount - 1).ToString(CultureInfo.InvariantCulture)
                || master.GetValueOrDefault("flags") != "master")
            {
                return false;
            }
        }

        return true;
    }

    private static async Task<string?> RoleAsync(RedisServerProcess node, CancellationToken cancellationToken) =>
        await TryCallAsync(node.Endpoint, cancellationToken, "ROLE") is object?[] { Length: > 0 } role ? role[0] as string : null;

    private static Dictionary<string, string?> Pairs(object?[] fields)
    {
        var pairs = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            pairs[fields[i] as string ?? ""] = fields[i + 1] as string;
        }

        return pairs;
    }

    /// <summary>One command on a new connection (a second at most); null when the node does not answer.</summary>
    private static async Task<object?> TryCallAsync(string endpoint, CancellationToken cancellationToken, params string[] command)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await using var connection = await RespConnection.ConnectAsync(endpoint, timeout.Token);
            return await connection.CallAsync(timeout.Token, command);
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    private async Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, DateTime deadline, string what, CancellationToken cancellationToken)
    {
        while (!await condition(cancellationToken))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Redis Sentinel topology: not in time: {what}.\n{Diagnostics()}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private string Diagnostics() =>
        string.Join("\n", _sentinels.Select(s => $"--- sentinel {s.Endpoint}\n{s.Process.RecentOutput}")
            .Concat(_nodes.Select(n => $"--- node {n.Endpoint}\n{n.Process.RecentOutput}")));

    private static string Port(RedisServerProcess node) => node.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>One sentinel: its process, port and directory (config file included).</summary>
    private sealed class Sentinel(ChildProcess process, int port, string directory) : IAsyncDisposable
    {
        public ChildProcess Process { get; } = process;

        public string Endpoint { get; } = $"127.0.0.1:{port}";

        public static Sentinel Start(string executable, string serviceName, int primaryPort)
        {
            var directory = Directory.CreateTempSubdirectory("taskqueue-sentinel-").FullName;
            var port = LoopbackPort.Free();
            var config = Path.Combine(directory, "sentinel.conf");
            File.WriteAllLines(config,
            [
                $"port {port}",
                "bind 127.0.0.1",
                "daemonize no",
                $"dir {directory}",
                $"sentinel monitor {serviceName} 127.0.0.1 {primaryPort} {Quorum}",
                $"sentinel down-after-milliseconds {serviceName} {(int)DownAfter.TotalMilliseconds}",
                $"sentinel failover-timeout {serviceName} {(int)s_failoverTimeout.TotalMilliseconds}",
                $"sentinel parallel-syncs {serviceName} 1",
            ]);
            // redis-sentinel takes the config file alone; redis-server needs --sentinel after it.
            string[] arguments = Path.GetFileName(executable) == "redis-sentinel" ? [config] : [config, "--sentinel"];
            return new Sentinel(ChildProcess.Start($"redis-sentinel-{port}", executable, arguments), port, directory);
        }

        public async ValueTask DisposeAsync()
        {
            Process.Kill();
            Process.WaitForExit(TimeSpan.FromSeconds(5));
            await Process.DisposeAsync();
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
