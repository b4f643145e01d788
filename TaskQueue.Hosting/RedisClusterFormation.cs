using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace TaskQueue.Hosting;

/// <summary>
/// The one-shot step of a <see cref="RedisClusterResource"/>, run when the application starts: once every node runs, it
/// joins them the way <c>redis-cli --cluster create</c> does (<c>CLUSTER MEET</c>, the slots split evenly over the
/// primaries with <c>CLUSTER ADDSLOTSRANGE</c>, <c>CLUSTER REPLICATE</c> for each replica) — but only when every node is
/// new. Nodes that already form a cluster (their <c>nodes.conf</c> kept in the data directory) keep their slots, data
/// and roles; they are only met again at the ports Aspire gave them this time, since a node remembers its peers at the
/// ports of the last run. A mix of new and formed nodes, or a formed cluster of more nodes than configured, is refused
/// with a message saying what to do. The resource runs once every node says <c>cluster_state:ok</c>; dependents that
/// <c>WaitFor</c> it then wait for its health check (every primary's <c>cluster_state:ok</c>).
/// </summary>
internal static partial class RedisClusterFormation
{
    /// <summary>How long forming may take once every node runs, beyond which the resource fails to start.</summary>
    private static readonly TimeSpan s_formTimeout = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan s_poll = TimeSpan.FromMilliseconds(200);

    /// <summary>The address nodes bind and announce to each other (<c>CLUSTER MEET</c> takes an IP address, not a name).</summary>
    public const string Loopback = "127.0.0.1";

    public static async Task FormAsync(RedisClusterResource cluster, InitializeResourceEvent @event, CancellationToken cancellationToken)
    {
        await @event.Notifications.PublishUpdateAsync(cluster, s => s with { State = KnownResourceStates.Waiting });
        try
        {
            foreach (var node in cluster.Nodes)
            {
                await @event.Notifications.WaitForResourceAsync(node.Name, KnownResourceStates.Running, cancellationToken);
            }

            await @event.Notifications.PublishUpdateAsync(cluster, s => s with { State = KnownResourceStates.Starting });
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_formTimeout);
            var password = await cluster.PasswordParameter.GetValueAsync(timeout.Token)
                           ?? throw new DistributedApplicationException($"The parameter '{cluster.PasswordParameter.Name}' has no value.");
            var nodes = new List<ClusterNodeAddress>();
            foreach (var node in cluster.Nodes)
            {
                nodes.Add(new ClusterNodeAddress(
                    node.Name,
                    await PortAsync(node.PrimaryEndpoint, timeout.Token),
                    await PortAsync(new EndpointReference(node, RedisClusterResource.BusEndpointName), timeout.Token)));
            }

            var shape = new ClusterShape(nodes, cluster.PrimaryCount, cluster.ReplicasPerPrimary, Path.GetDirectoryName(cluster.Nodes[0].WorkingDirectory));
            await JoinAsync(cluster.Name, shape, password, @event.Logger, timeout.Token);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = exception is OperationCanceledException
                ? $"the nodes did not form a cluster within {s_formTimeout.TotalMinutes:0} minutes"
                : exception.Message;
            LogFormationFailed(@event.Logger, cluster.Name, reason);
            await @event.Notifications.PublishUpdateAsync(cluster, s => s with { State = KnownResourceStates.FailedToStart });
            return;
        }

        await @event.Notifications.PublishUpdateAsync(cluster, s => s with
        {
            State = KnownResourceStates.Running,
            StartTimeStamp = DateTime.UtcNow,
        });
        await @event.Eventing.PublishAsync(new ConnectionStringAvailableEvent(cluster, @event.Services), cancellationToken);
    }

    /// <summary>
    /// Joins the nodes of <paramref name="shape"/> (running, on loopback, requiring <paramref name="password"/>) into a
    /// cluster, or meets them again when they form one, and waits until every node says <c>cluster_state:ok</c>.
    /// Returns true when it formed a new cluster.
    /// </summary>
    internal static async Task<bool> JoinAsync(string name, ClusterShape shape, string password, ILogger logger, CancellationToken cancellationToken)
    {
        var nodes = new List<Node>();
        try
        {
            foreach (var address in shape.Nodes)
            {
                nodes.Add(await Node.ConnectAsync(address, password, cancellationToken));
            }

            var formed = await JoinAsync(name, shape, nodes, logger, cancellationToken);
            await WaitUntilAsync(nodes, info => info.StateOk, "say cluster_state:ok", cancellationToken);
            return formed;
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
            }
        }
    }

    private static async Task<bool> JoinAsync(string name, ClusterShape shape, List<Node> nodes, ILogger logger, CancellationToken cancellationToken)
    {
        var infos = new List<ClusterInfo>();
        foreach (var node in nodes)
        {
            infos.Add(await node.InfoAsync(cancellationToken));
        }

        var formed = nodes.Where((_, i) => infos[i].KnowsACluster).ToList();
        if (formed.Count == 0)
        {
            await CreateAsync(shape, nodes, cancellationToken);
            LogFormed(logger, name, shape.Primaries, nodes.Count - shape.Primaries);
            return true;
        }

        var dataDirectory = shape.DataDirectory;
        if (formed.Count < nodes.Count)
        {
            throw new DistributedApplicationException(
                $"Some nodes already belong to a cluster ({string.Join(", ", formed.Select(n => n.Name))}) and others are new " +
                $"({string.Join(", ", nodes.Except(formed).Select(n => n.Name))}): the data in {dataDirectory} is from a cluster " +
                "of other settings (Redis:Primaries, Redis:Replicas) or lost some nodes' files. Set them as they were, or delete that " +
                "directory to start a new, empty cluster.");
        }

        if (infos.Max(i => i.KnownNodes) is var known && known > nodes.Count)
        {
            throw new DistributedApplicationException(
                $"The cluster kept in {dataDirectory} has {known} nodes, the settings ask for {nodes.Count} " +
                $"({shape.Primaries} primaries, {shape.ReplicasPerPrimary} replicas each). Set Redis:Primaries and " +
                "Redis:Replicas as they were, or delete that directory to start a new, empty cluster.");
        }

        // Each node knows the others at last run's ports: meet every one at its port now. A node that receives a MEET
        // from a node it knows updates that node's address; slots, data and roles stay as they were.
        foreach (var from in nodes)
        {
            foreach (var to in nodes.Where(n => n != from))
            {
                await from.MeetAsync(to);
            }
        }

        LogRejoined(logger, name, nodes.Count, dataDirectory);
        return false;
    }

    private static async Task CreateAsync(ClusterShape shape, List<Node> nodes, CancellationToken cancellationToken)
    {
        foreach (var node in nodes.Skip(1))
        {
            await nodes[0].MeetAsync(node);
        }

        for (var i = 0; i < shape.Primaries; i++)
        {
            var start = i * RedisClusterResource.SlotCount / shape.Primaries;
            var end = ((i + 1) * RedisClusterResource.SlotCount / shape.Primaries) - 1;
            await nodes[i].CallAsync("CLUSTER", "ADDSLOTSRANGE", start, end);
        }

        await WaitUntilAsync(nodes, info => info.KnownNodes == nodes.Count, "know every node", cancellationToken);
        for (var r = shape.Primaries; r < nodes.Count; r++)
        {
            var primary = nodes[(r - shape.Primaries) / shape.ReplicasPerPrimary];
            var primaryId = (string)(await primary.CallAsync("CLUSTER", "MYID"))!;
            await nodes[r].CallAsync("CLUSTER", "REPLICATE", primaryId);
        }
    }

    private static async Task WaitUntilAsync(List<Node> nodes, Func<ClusterInfo, bool> ready, string what, CancellationToken cancellationToken)
    {
        foreach (var node in nodes)
        {
            try
            {
                while (!ready(await node.InfoAsync(cancellationToken)))
                {
                    await Task.Delay(s_poll, cancellationToken);
                }
            }
            catch (OperationCanceledException exception) when (cancellationToken.IsCancellationRequested)
            {
                throw new DistributedApplicationException($"node {node.Name} did not {what} in time.", exception);
            }
        }
    }

    private static async Task<int> PortAsync(EndpointReference endpoint, CancellationToken cancellationToken) =>
        int.Parse(
            await endpoint.Property(EndpointProperty.TargetPort).GetValueAsync(cancellationToken)
            ?? throw new DistributedApplicationException($"The endpoint '{endpoint.EndpointName}' of '{endpoint.Resource.Name}' has no port."),
            CultureInfo.InvariantCulture);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Redis Cluster '{Name}': formed a new cluster of {Primaries} primaries and {Replicas} replicas.")]
    private static partial void LogFormed(ILogger logger, string name, int primaries, int replicas);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Redis Cluster '{Name}': its {Nodes} nodes already form a cluster (kept in {DataDirectory}); met them again at this run's ports.")]
    private static partial void LogRejoined(ILogger logger, string name, int nodes, string? dataDirectory);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Redis Cluster '{Name}' was not formed: {Reason}")]
    private static partial void LogFormationFailed(ILogger logger, string name, string reason);

    /// <summary>What <c>CLUSTER INFO</c> says of one node.</summary>
    private sealed record ClusterInfo(string Text)
    {
        public bool StateOk => Text.Contains("cluster_state:ok", StringComparison.Ordinal);

        public int KnownNodes => Field("cluster_known_nodes");

        /// <summary>
        /// It knows of slots assigned (to itself or another node): a node of a formed cluster. A node that only met
        /// others (a start cut short before the slots were added) is still new: meeting again and adding slots is safe.
        /// </summary>
        public bool KnowsACluster => Field("cluster_slots_assigned") > 0;

        private int Field(string name)
        {
            foreach (var line in Text.Split('\n'))
            {
                if (line.StartsWith(name + ":", StringComparison.Ordinal))
                {
                    return int.Parse(line[(name.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
                }
            }

            return 0;
        }
    }

    /// <summary>A connection to one node, by its client port, with its bus port for <c>CLUSTER MEET</c>.</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly ConnectionMultiplexer _connection;
        private readonly int _port;
        private readonly int _busPort;

        private Node(string name, ConnectionMultiplexer connection, int port, int busPort)
        {
            Name = name;
            _connection = connection;
            _port = port;
            _busPort = busPort;
        }

        public string Name { get; }

        public static async Task<Node> ConnectAsync(ClusterNodeAddress address, string password, CancellationToken cancellationToken)
        {
            var options = new ConfigurationOptions
            {
                EndPoints = { { Loopback, address.Port } },
                Password = password,
                AllowAdmin = true, // CLUSTER MEET, ADDSLOTSRANGE, REPLICATE
                AbortOnConnectFail = false,
                ConnectTimeout = 5000,
            };
            var node = new Node(address.Name, await ConnectionMultiplexer.ConnectAsync(options), address.Port, address.BusPort);
            try
            {
                // Running is not listening yet: wait until it answers.
                while (!await node.AnswersAsync())
                {
                    await Task.Delay(s_poll, cancellationToken);
                }
            }
            catch
            {
                await node.DisposeAsync();
                throw;
            }

            return node;
        }

        public Task<RedisResult> CallAsync(string command, params object[] args) =>
            _connection.GetServer(Loopback, _port).ExecuteAsync(command, args);

        public async Task<ClusterInfo> InfoAsync(CancellationToken cancellationToken) =>
            new((string?)await CallAsync("CLUSTER", "INFO").WaitAsync(cancellationToken) ?? "");

        public Task MeetAsync(Node other) => CallAsync("CLUSTER", "MEET", Loopback, other._port, other._busPort);

        public ValueTask DisposeAsync() => _connection.DisposeAsync();

        private async Task<bool> AnswersAsync()
        {
            try
            {
                await CallAsync("PING");
                return true;
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }
    }
}

/// <summary>One node of a local cluster: its resource name, client port and cluster bus port on <see cref="RedisClusterFormation.Loopback"/>.</summary>
internal sealed record ClusterNodeAddress(string Name, int Port, int BusPort);

/// <summary>
/// A local cluster as configured: its nodes (the primaries first, in slot order, then the given number of replicas per
/// primary, in primary order) and the directory that holds their data (for messages).
/// </summary>
internal sealed record ClusterShape(IReadOnlyList<ClusterNodeAddress> Nodes, int Primaries, int ReplicasPerPrimary, string? DataDirectory);
