using System.Globalization;
using Aspire.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using TaskQueue.Hosting;
using TaskQueue.Testing;

namespace TaskQueue.Tests.Hosting;

/// <summary>
/// The cluster resource's one-shot step (<see cref="RedisClusterFormation.JoinAsync"/>) on real cluster-enabled
/// redis-servers, without Aspire: what an AppHost start does with new nodes, with nodes that already form a cluster
/// (restarted with their data on other ports), and with a mix of both.
/// </summary>
public sealed class RedisClusterFormationTests : IAsyncLifetime
{
    private const string Password = "formation-test-password";

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    /// <summary>Every node started, killed ones too (disposing deletes their directories), newest first at the end.</summary>
    private readonly List<RedisServerProcess> _started = [];

    [Fact]
    public async Task A_new_cluster_is_formed_and_its_nodes_restarted_on_other_ports_with_their_data_meet_again_keeping_slots_roles_and_data()
    {
        var directories = NewDirectories(4);
        var first = await StartAsync(directories, primaries: 2);
        Assert.True(await JoinAsync(first), "new nodes: a new cluster");
        var before = await NodesAsync(first);
        Assert.Equal(["primary", "primary", "replica", "replica"], before.Select(n => n.Role));
        await using (var client = await ConnectionMultiplexer.ConnectAsync(ConnectionString(first)))
        {
            for (var i = 0; i < 20; i++)
            {
                await client.GetDatabase().StringSetAsync($"key-{i}", i);
            }
        }

        foreach (var node in _started)
        {
            node.Kill();
        }

        var second = await StartAsync(directories, primaries: 2);
        Assert.False(await JoinAsync(second), "formed nodes: met again, not formed anew");

        // The same node ids with the same slots and roles, now at this run's ports, every node ok.
        Assert.Equal(before.Select(n => (n.Id, n.Role, n.Slots)), (await NodesAsync(second)).Select(n => (n.Id, n.Role, n.Slots)));
        foreach (var node in second.Nodes)
        {
            var info = await CallAsync(node, "CLUSTER", "INFO");
            Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
            Assert.Contains("cluster_known_nodes:4", info, StringComparison.Ordinal);
        }

        await using var again = await ConnectionMultiplexer.ConnectAsync(ConnectionString(second));
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, (int)await again.GetDatabase().StringGetAsync($"key-{i}"));
        }
    }

    [Fact]
    public async Task New_nodes_beside_the_nodes_of_a_formed_cluster_are_refused_naming_them_and_the_data_directory_and_left_alone()
    {
        var formed = await StartAsync(NewDirectories(2), primaries: 2);
        await JoinAsync(formed);
        var added = await StartAsync(NewDirectories(1), primaries: 1, firstOrdinal: 3);
        var grown = new ClusterShape([.. formed.Nodes, .. added.Nodes], Primaries: 3, ReplicasPerPrimary: 0, DataDirectory: "/the/data");

        var refused = await Assert.ThrowsAsync<DistributedApplicationException>(() => JoinAsync(grown));

        Assert.Contains("belong to a cluster (node-1, node-2) and others are new (node-3)", refused.Message, StringComparison.Ordinal);
        Assert.Contains("/the/data", refused.Message, StringComparison.Ordinal);
        Assert.Contains("cluster_known_nodes:1", await CallAsync(added.Nodes[0], "CLUSTER", "INFO"), StringComparison.Ordinal);
        Assert.Contains("cluster_known_nodes:2", await CallAsync(formed.Nodes[0], "CLUSTER", "INFO"), StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 does not dispose a test class asynchronously, and the nodes outlived the run.
    public async Task DisposeAsync()
    {
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            await _started[i].DisposeAsync();
        }
    }

    private static Task<bool> JoinAsync(ClusterShape shape)
    {
        using var timeout = new CancellationTokenSource(s_timeout);
        return RedisClusterFormation.JoinAsync("test", shape, Password, NullLogger.Instance, timeout.Token);
    }

    private static List<string> NewDirectories(int count) =>
        [.. Enumerable.Range(0, count).Select(_ => Directory.CreateTempSubdirectory("taskqueue-cluster-node-").FullName)];

    /// <summary>A node per directory, as the AppHost runs them (cluster-enabled, a bus port of its own, the password), fsync always.</summary>
    private async Task<ClusterShape> StartAsync(List<string> directories, int primaries, int firstOrdinal = 1)
    {
        var nodes = new List<ClusterNodeAddress>();
        foreach (var directory in directories)
        {
            var busPort = LoopbackPort.Free();
            var node = await RedisServerProcess.StartAsync(
                dataDirectory: directory,
                password: Password,
                // appendfsync always: under everysec a write acknowledged while a background fsync is slow may not be in the
                // file yet when the test SIGKILLs the node (the test is about the cluster's formation, not that window).
                extraArguments:
                [
                    "--cluster-enabled", "yes", "--cluster-port", busPort.ToString(CultureInfo.InvariantCulture), "--cluster-config-file", "nodes.conf",
                    "--masterauth", Password, "--appendfsync", "always",
                ]);
            _started.Add(node);
            nodes.Add(new ClusterNodeAddress($"node-{firstOrdinal + nodes.Count}", node.Port, busPort));
        }

        return new ClusterShape(nodes, primaries, (nodes.Count / primaries) - 1, DataDirectory: null);
    }

    private static string ConnectionString(ClusterShape shape) =>
        string.Join(',', shape.Nodes.Take(shape.Primaries).Select(n => $"127.0.0.1:{n.Port}")) + $",password={Password}";

    private static async Task<string> CallAsync(ClusterNodeAddress node, params object[] command)
    {
        await using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{node.Port},password={Password},allowAdmin=true");
        return (string)(await connection.GetServer("127.0.0.1", node.Port).ExecuteAsync((string)command[0], command[1..]))!;
    }

    /// <summary>Each node's own line of CLUSTER NODES ("myself"): its id, role and slots, in node order.</summary>
    private static async Task<List<(string Id, string Role, string Slots)>> NodesAsync(ClusterShape shape)
    {
        var nodes = new List<(string, string, string)>();
        foreach (var node in shape.Nodes)
        {
            var fields = (await CallAsync(node, "CLUSTER", "NODES"))
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(line => line.Split(' '))
                .Single(f => f[2].Contains("myself", StringComparison.Ordinal));
            nodes.Add((fields[0], fields[2].Contains("master", StringComparison.Ordinal) ? "primary" : "replica", string.Join(' ', fields.Skip(8))));
        }

        return nodes;
    }
}
