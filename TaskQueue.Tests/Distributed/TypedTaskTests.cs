using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TaskQueue.Client;
using TaskQueue.Tests.Infrastructure;
using TaskQueue.Tests.Worker;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// A team's own worker service, as the worker library runs it: a typed handler in a host of the test's own,
/// against a real broker process over real Redis, fed and read through the typed client.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class TypedTaskTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_typed_task_submitted_through_the_typed_client_runs_on_a_typed_handler_and_its_result_reads_back_typed()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var workerId = $"typed-{cluster.Queue}";
        using var worker = await StartWorkerAsync(new Uri(broker.GrpcAddress), cluster.Queue, workerId, cluster.Credentials.WorkerKey);
        await cluster.WaitForWorkersAsync(workerId);
        using var channel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions { BrokerAddress = new Uri(broker.GrpcAddress), ApiKey = cluster.AdminKey });
        var client = new TaskQueueClient(channel);

        var submitted = await client.SubmitAsync("resize-image", new ResizeRequest("cat.png", 64), queue: cluster.Queue);
        var bad = await client.SubmitAsync(TaskRequest.FromText("resize-image", """{"imageUrl":"s3cr3t","width":"wide"}""", cluster.Queue));
        var done = await client.WaitAsync<ResizeResult>(submitted.TaskId, Wait);
        var rejected = await client.WaitAsync<ResizeResult>(bad.TaskId, Wait);

        Assert.Equal(new TaskResult<ResizeResult>(submitted.TaskId, TaskState.Completed, new ResizeResult("cat.png@64", 64), Error: null), done);
        Assert.Equal(TaskState.DeadLettered, rejected.State);
        Assert.Null(rejected.Result);
        Assert.Contains("not valid JSON for ResizeRequest", rejected.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", rejected.Error, StringComparison.Ordinal);
        Assert.Equal(1, (await client.GetAsync(bad.TaskId)).Attempt);

        using var stopping = new CancellationTokenSource(Wait);
        await worker.StopAsync(stopping.Token);
    }

    /// <summary>What a team writes: its own host, the worker library, its own typed handler.</summary>
    private async Task<IHost> StartWorkerAsync(Uri brokerAddress, string queue, string workerId, string apiKey)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output));
        builder.AddTaskQueueWorker(options =>
        {
            options.BrokerAddress = brokerAddress;
            options.Queues = [queue];
            options.WorkerId = workerId;
            options.ApiKey = apiKey;
            options.DrainTimeout = TimeSpan.FromSeconds(5);
        });
        // A typed handler with JSON web defaults (camelCase), as the typed client's.
        builder.Services.AddTaskHandler<ResizeTaskHandler>();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
