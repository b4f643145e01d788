using System.Globalization;

namespace TaskQueue.Testing;

/// <summary>
/// A private Redis Cluster: <c>primaries</c> redis-servers started with <c>--cluster-enabled yes</c> (each a
/// <see cref="RedisServerProcess"/>: its own free loopback port and temporary data directory), joined with
/// <c>CLUSTER MEET</c>, the 16384 slots split evenly over the primaries (<c>CLUSTER ADDSLOTSRANGE</c>), optional
/// replicas (<c>CLUSTER REPLICATE</c>); ready once every node reports <c>cluster_state:ok</c> and knows every other
/// node, and every replica has synced with its primary (<c>master_link_status:up</c>). <see cref="MoveSlotAsync"/>
/// reshards one slot online (the resharding tests). Disposing kills every node and deletes its data.
/// </summary>
public sealed class RedisClusterProcess : IAsyncDisposable
{
    /// <summary>The number of hash slots of every Redis Cluster.</summary>
    public const int SlotCount = 16384;

    private readonly List<RedisServerProcess> _nodes;
    private readonly List<int> _busPorts;

    private RedisClusterProcess(List<RedisServerProcess> nodes, List<int> busPorts, int primaries)
    {
        _nodes = nodes;
        _busPorts = busPorts;
        Primaries = nodes.Take(primaries).ToList();
        Replicas = nodes.Skip(primaries).ToList();
    }

    /// <summary>The primaries, in slot order: the first serves the lowest slots.</summary>
    public IReadOnlyList<RedisServerProcess> Primaries { get; }

    /// <summary>The replicas (none unless asked for), <c>replicasPerPrimary</c> per primary in primary order.</summary>
    public IReadOnlyList<RedisServerProcess> Replicas { get; }

    /// <summary>Every node: primaries first, then replicas.</summary>
    public IReadOnlyList<RedisServerProcess> Nodes => _nodes;

    /// <summary>ConnectionStrings:redis for the cluster: every primary's host:port (the client discovers the rest).</summary>
    public string ConnectionString => string.Join(',', Primaries.Select(p => p.Endpoint));

    /// <summary>
    /// Starts a cluster and waits (at most <paramref name="startTimeout"/>, default 30 s) until every node says
    /// <c>cluster_state:ok</c>. <paramref name="extraArguments"/> go to every node after the product settings
    /// (e.g. <see cref="RedisServerSettings.NoPersistence"/>).
    /// </summary>
    public static async Task<RedisClusterProcess> StartAsync(
        int primaries = 3,
        int replicasPerPrimary = 0,
        IEnumerable<string>? extraArguments = null,
        TimeSpan? startTimeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(primaries, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(replicasPerPrimary);
        var arguments = new List<string>
        {
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
            // A cluster of test nodes keeps serving the slots it has while another node is away (a fault test kills one).
            "--cluster-require-full-coverage", "no",
        };
        arguments.AddRange(extraArguments ?? []);
        var total = primaries * (1 + replicasPerPrimary);
        // The cluster bus on a port of its own: by default it is the client port + 10000, which nothing reserved (taken
        // now and then by another process's ephemeral port: the node then exits with "address already in use").
        var busPorts = Enumerable.Range(0, total).Select(_ => LoopbackPort.Free()).ToList();
        var starting = busPorts
            .Select(busPort => RedisServerProcess.StartAsync(
                extraArguments: [.. arguments, "--cluster-port", busPort.ToString(CultureInfo.InvariantCulture)],
                cancellationToken: cancellationToken))
            .ToList();
        var nodes = new List<RedisServerProcess>(total);
        try
        {
            foreach (var node in starting)
            {
                nodes.Add(await node);
            }
        }
        catch
        {
            foreach (var node in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await node.Result.DisposeAsync();
            }

            throw;
        }

        var cluster = new RedisClusterProcess(nodes, busPorts, primaries);
        try
        {
            await cluster.FormAsync(replicasPerPrimary, startTimeout ?? TimeSpan.FromSeconds(30), cancellationToken);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The node id (<c>CLUSTER MYID</c>) of <paramref name="node"/>.</summary>
    public static async Task<string> NodeIdAsync(RedisServerProcess node, CancellationToken cancellationToken = default)
    {
        await using var connection = await node.ConnectAsync(cancellationToken);
        return (string)(await connection.CallAsync(cancellationToken, "CLUSTER", "MYID"))!;
    }

    /// <summary>The slot of <paramref name="key"/> (<c>CLUSTER KEYSLOT</c>: the hash tag's, when it has one).</summary>
    public async Task<int> SlotOfAsync(string key, CancellationToken cancellationToken = default)
    {
        await using var connection = await Primaries[0].ConnectAsync(cancellationToken);
        return (int)(long)(await connection.CallAsync(cancellationToken, "CLUSTER", "KEYSLOT", key))!;
    }

    /// <summary>The primary that serves <paramref name="slot"/> now (as the first primary sees it: <c>CLUSTER SLOTS</c>).</summary>
    public async Task<RedisServerProcess> OwnerOfAsync(int slot, CancellationToken cancellationToken = default)
    {
        await using var connection = await Primaries[0].ConnectAsync(cancellationToken);
        var ranges = (object?[])(await connection.CallAsync(cancellationToken, "CLUSTER", "SLOTS"))!;
        foreach (var range in ranges.Cast<object?[]>())
        {
            if ((long)range[0]! <= slot && slot <= (long)range[1]!)
            {
                var port = (int)(long)((object?[])range[2]!)[1]!;
                return Primaries.Single(p => p.Port == port);
            }
        }

        throw new InvalidOperationException($"No primary serves slot {slot}.");
    }

    /// <summary>
    /// Moves <paramref name="slot"/> and its keys to <paramref name="target"/> online, the way <c>redis-cli --cluster
    /// reshard</c> does: the target imports, the owner migrates, the keys go over with <c>MIGRATE ... KEYS</c>
    /// (<paramref name="keysPerMigrate"/> at a time), then every primary is told the new owner
    /// (<c>CLUSTER SETSLOT ... NODE</c>, the target first). Clients meet <c>ASK</c> and <c>TRYAGAIN</c> during the
    /// move and <c>MOVED</c> after it.
    /// </summary>
    public async Task MoveSlotAsync(int slot, RedisServerProcess target, int keysPerMigrate = 1000, CancellationToken cancellationToken = default)
    {
        var source = await OwnerOfAsync(slot, cancellationToken);
        if (source == target)
        {
            return;
        }

        var text = slot.ToString(CultureInfo.InvariantCulture);
        var sourceId = await NodeIdAsync(source, cancellationToken);
        var targetId = await NodeIdAsync(target, cancellationToken);
        await using var to = await target.ConnectAsync(cancellationToken);
        await using var from = await source.ConnectAsync(cancellationToken);
        await to.CallAsync(cancellationToken, "CLUSTER", "SETSLOT", text, "IMPORTING", sourceId);
        await from.CallAsync(cancellationToken, "CLUSTER", "SETSLOT", text, "MIGRATING", targetId);
        while (true)
        {
            var keys = (object?[])(await from.CallAsync(
                cancellationToken, "CLUSTER", "GETKEYSINSLOT", text, keysPerMigrate.ToString(CultureInfo.InvariantCulture)))!;
            if (keys.Length == 0)
            {
                break;
            }

            await from.CallAsync(
                cancellationToken,
                ["MIGRATE", "127.0.0.1", target.Port.ToString(CultureInfo.InvariantCulture), "", "0", "10000", "KEYS", .. keys.Cast<string>()]);
        }

        await to.CallAsync(cancellationToken, "CLUSTER", "SETSLOT", text, "NODE", targetId);
        await from.CallAsync(cancellationToken, "CLUSTER", "SETSLOT", text, "NODE", targetId);
        foreach (var other in Primaries.Where(p => p != source && p != target))
        {
            await using var connection = await other.ConnectAsync(cancellationToken);
            await connection.CallAsync(cancellationToken, "CLUSTER", "SETSLOT", text, "NODE", targetId);
        }
    }

    /// <summary>Kills every node and deletes its data.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task FormAsync(int replicasPerPrimary, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await using (var first = await _nodes[0].ConnectAsync(cancellationToken))
        {
            for (var i = 1; i < _nodes.Count; i++)
            {
                await first.CallAsync(
                    cancellationToken,
                    "CLUSTER",
                    "MEET",
                    "127.0.0.1",
                    _nodes[i].Port.ToString(CultureInfo.InvariantCulture),
                    _busPorts[i].ToString(CultureInfo.InvariantCulture));
            }
        }

        for (var i = 0; i < Primaries.Count; i++)
        {
            var start = i * SlotCount / Primaries.Count;
            var end = ((i + 1) * SlotCount / Primaries.Count) - 1;
            await using var connection = await Primaries[i].ConnectAsync(cancellationToken);
            await connection.CallAsync(
                cancellationToken, "CLUSTER", "ADDSLOTSRANGE", start.ToString(CultureInfo.InvariantCulture), end.ToString(CultureInfo.InvariantCulture));
        }

        var deadline = DateTime.UtcNow + timeout;
        await WaitUntilAsync(deadline, async node => KnownNodes(await ClusterInfoAsync(node, cancellationToken)) == _nodes.Count, "know every node", cancellationToken);
        for (var r = 0; r < Replicas.Count; r++)
        {
            var primaryId = await NodeIdAsync(Primaries[r / replicasPerPrimary], cancellationToken);
            await using var connection = await Replicas[r].ConnectAsync(cancellationToken);
            await connection.CallAsync(cancellationToken, "CLUSTER", "REPLICATE", primaryId);
        }

        await WaitUntilAsync(
            deadline, async node => (await ClusterInfoAsync(node, cancellationToken)).Contains("cluster_state:ok", StringComparison.Ordinal), "say cluster_state:ok", cancellationToken);
        // A replica counts for WAIT only once it has synced with its primary.
        await WaitUntilAsync(
            deadline,
            async node => !Replicas.Contains(node) || (await ReplicationInfoAsync(node, cancellationToken)).Contains("master_link_status:up", StringComparison.Ordinal),
            "sync with its primary",
            cancellationToken);
    }

    private async Task WaitUntilAsync(DateTime deadline, Func<RedisServerProcess, Task<bool>> ready, string what, CancellationToken cancellationToken)
    {
        foreach (var node in _nodes)
        {
            while (!await ready(node))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException(
                        $"Redis Cluster node {node.Endpoint} did not {what} in time:\n{await ClusterInfoAsync(node, cancellationToken)}");
                }

                await Task.Delay(50, cancellationToken);
            }
        }
    }

    private static async Task<string> ClusterInfoAsync(RedisServerProcess node, CancellationToken cancellationToken)
    {
        await using var connection = await node.ConnectAsync(cancellationToken);
        return (string?)await connection.CallAsync(cancellationToken, "CLUSTER", "INFO") ?? "";
    }

    private static async Task<string> ReplicationInfoAsync(RedisServerProcess node, CancellationToken cancellationToken)
    {
        await using var connection = await node.ConnectAsync(cancellationToken);
        return (string?)await connection.CallAsync(cancellationToken, "INFO", "replication") ?? "";
    }

    private static int KnownNodes(string info)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith("cluster_known_nodes:", StringComparison.Ordinal))
            {
                return int.Parse(line["cluster_known_nodes:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }
}
