using TaskQueue.Cli;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

[Collection(DistributedCollection.Name)]
public sealed class DemoTests
{
    [Fact]
    public async Task The_demo_load_completes_everything_but_the_one_task_built_to_dead_letter()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        string[] workers = [$"d1-{cluster.Queue}", $"d2-{cluster.Queue}"];
        foreach (var worker in workers)
        {
            cluster.StartWorker(worker, concurrency: 8);
        }

        await cluster.WaitForWorkersAsync(workers);
        using var output = new StringWriter();
        using var error = new StringWriter();

        var exitCode = await TaskQueueCli.InvokeAsync(["demo", "--queue", cluster.Queue, "--broker", cluster.Brokers[0].GrpcAddress, "--api-key", cluster.AdminKey], output, error)
            .WaitAsync(TimeSpan.FromMinutes(2));

        Assert.True(exitCode == 0, $"{output}\n{error}\n{cluster.Diagnostics()}");
        Assert.Contains("999 completed, 1 dead-lettered", output.ToString(), StringComparison.Ordinal);
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((999, 1), (counts.Completed, counts.DeadLettered));
        Assert.True(counts.Retried >= 75, $"the fail-then-succeed tasks retried ({counts.Retried})");
    }
}
