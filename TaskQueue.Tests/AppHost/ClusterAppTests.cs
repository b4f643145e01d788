using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// The AppHost with <c>Redis:Mode=cluster</c>: a local Redis Cluster of three primaries, each with a replica, formed by
/// the AppHost itself, and the broker over it. One app start (about 40 s under load), so one test checks it all.
/// </summary>
[Collection(AppHostCollection.Name)]
public sealed class ClusterAppTests(ITestOutputHelper output)
{
    /// <summary>
    /// Queues whose hash tags fall on every primary of an evenly split 3-primary cluster: slots 13462, 1269, 5332, 9267,
    /// 13330, 1137 (<c>CLUSTER KEYSLOT {cluster-a}</c> ...), so three, one and two of them per primary.
    /// </summary>
    private static readonly string[] s_queues = ["cluster-a", "cluster-b", "cluster-c", "cluster-d", "cluster-e", "cluster-f"];

    [Fact]
    public async Task With_redis_mode_cluster_the_AppHost_forms_a_cluster_of_three_primaries_with_replicas_and_tasks_on_queues_of_several_shards_complete()
    {
        await using var app = await TaskQueueApp.StartAsync(workers: 1, new Dictionary<string, string>
        {
            ["Redis:Mode"] = "cluster",
            ["Redis:Replicas"] = "1",
            ["Worker:Queues"] = string.Join(',', s_queues),
        });
        output.WriteLine($"started in {app.StartupTime.TotalSeconds:F1} s");

        // The dashboard shows the cluster and each of its six nodes, all running.
        Assert.Equal("Running", app.StateOf(TaskQueueApp.RedisName));
        for (var i = 1; i <= 6; i++)
        {
            Assert.Equal("Running", app.StateOf($"{TaskQueueApp.RedisName}-{i}"));
        }

        // Tasks submitted through the gRPC API, to queues on several shards, complete.
        var ids = await app.SubmitAsync(s_queues.SelectMany(queue => Enumerable.Range(0, 5).Select(i => TaskQueueApp.Spec("echo", $"task {i}", queue))));
        foreach (var queue in s_queues)
        {
            var tasks = await app.WaitAllFinalAsync([.. ids.Where(id => TaskId.Parse(id).Queue == queue)], TimeSpan.FromSeconds(90), queue);
            Assert.All(tasks, task => Assert.Equal(StoreTaskState.Completed, task.State));
        }

        // CLUSTER INFO: three primaries (cluster_size counts the nodes that serve slots), six nodes, state ok.
        var primaries = app.Redis.GetServers().Where(s => s.IsConnected && !s.IsReplica).ToList();
        Assert.Equal(3, primaries.Count);
        var info = (string)(await primaries[0].ExecuteAsync("CLUSTER", "INFO"))!;
        output.WriteLine(info);
        Assert.Contains("cluster_state:ok", info, StringComparison.Ordinal);
        Assert.Contains("cluster_size:3", info, StringComparison.Ordinal);
        Assert.Contains("cluster_known_nodes:6", info, StringComparison.Ordinal);

        // Each replica follows a primary, authenticated with the shared password (masterauth).
        await Eventually.TrueAsync(
            async () =>
            {
                var replicas = app.Redis.GetServers().Where(s => s.IsConnected && s.IsReplica).ToList();
                var linked = 0;
                foreach (var replica in replicas)
                {
                    var replication = (string)(await replica.ExecuteAsync("INFO", "replication"))!;
                    linked += replication.Contains("master_link_status:up", StringComparison.Ordinal) ? 1 : 0;
                }

                return linked == 3;
            },
            TimeSpan.FromSeconds(60),
            "three replicas say master_link_status:up");

        // The queues' keys live on more than one primary.
        var owners = new Dictionary<string, string>();
        foreach (var queue in s_queues)
        {
            foreach (var primary in primaries)
            {
                await foreach (var _ in primary.KeysAsync(pattern: RedisKeys.QueuePrefix(queue) + "*", pageSize: 100))
                {
                    owners[queue] = primary.EndPoint.ToString()!;
                    break;
                }
            }
        }

        output.WriteLine(string.Join(", ", owners.Select(o => $"{o.Key} on {o.Value}")));
        Assert.Equal(s_queues.Length, owners.Count);
        Assert.True(owners.Values.Distinct().Count() > 1, "every queue landed on one node");
    }
}
