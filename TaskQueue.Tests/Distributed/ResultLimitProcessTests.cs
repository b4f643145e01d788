using System.Text;
using Google.Protobuf;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreTaskState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>TaskQueue:Store:MaxResultBytes: the broker refuses a larger result, and a worker does not send one.</summary>
[Collection(DistributedCollection.Name)]
public sealed class ResultLimitProcessTests
{
    private const int Limit = 1024 * 1024;

    [Fact]
    public async Task A_result_over_the_limit_and_over_grpcs_default_message_size_fails_the_attempt_for_good_at_the_broker()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var (worker, welcome) = await RawWorker.ConnectAsync(cluster.WorkerClient(), $"raw-{cluster.Queue}", cluster.Queue, concurrency: 2);
        await using var stream = worker;
        await cluster.SubmitAsync([cluster.Task("echo", "big", maxAttempts: 5), cluster.Task("echo", "fits", maxAttempts: 5)]);
        var big = (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(10))).Assignment;
        var fits = (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, TimeSpan.FromSeconds(10))).Assignment;
        var size = (5 * 1024 * 1024) + 7; // past gRPC's default 4 MiB message, within the broker's transport limit

        await worker.SendAsync(new WorkerMessage { Completed = new TaskCompleted { TaskId = big.TaskId, LeaseToken = big.LeaseToken, Result = ByteString.CopyFrom(new byte[size]) } });
        await worker.SendAsync(new WorkerMessage { Completed = new TaskCompleted { TaskId = fits.TaskId, LeaseToken = fits.LeaseToken, Result = ByteString.CopyFrom(new byte[Limit]) } });
        var final = await cluster.WaitAllFinalAsync([big.TaskId, fits.TaskId], TimeSpan.FromSeconds(20));

        Assert.Equal(Limit, welcome.MaxResultBytes);
        var refused = final[0];
        Assert.Equal(StoreTaskState.DeadLettered, refused.State);
        Assert.Equal(1, refused.Attempt);
        Assert.Equal($"the result is {size} bytes, over the limit of {Limit} bytes (TaskQueue:Store:MaxResultBytes): not stored", refused.LastError);
        Assert.True(refused.Result.IsEmpty);
        Assert.Equal(StoreTaskState.Completed, final[1].State);
        Assert.Equal(Limit, final[1].Result.Length);
        Assert.False(worker.Closed.IsCompleted, "the stream stays open");
    }

    [Fact]
    public async Task A_worker_reports_a_result_over_the_brokers_limit_as_a_failure_instead_of_sending_it()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var workerId = $"bytes-{cluster.Queue}";
        var process = cluster.StartWorker(workerId, concurrency: 2);
        await cluster.WaitForWorkersAsync(workerId);
        var size = 6 * 1024 * 1024;

        var ids = await cluster.SubmitAsync([cluster.Task("bytes", size.ToString(System.Globalization.CultureInfo.InvariantCulture), maxAttempts: 5)]);
        var refused = (await cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(30))).Single();
        var after = await cluster.SubmitAsync([cluster.Task("bytes", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        var fits = (await cluster.WaitAllFinalAsync(after, TimeSpan.FromSeconds(30))).Single();

        Assert.Equal(StoreTaskState.DeadLettered, refused.State);
        Assert.Equal(1, refused.Attempt);
        Assert.Equal(ProtocolLimits.ResultTooLarge(size, Limit), refused.LastError);
        Assert.Contains($"returned a result of {size} bytes, over the broker's limit of {Limit} bytes", process.RecentOutput, StringComparison.Ordinal);
        Assert.Equal(StoreTaskState.Completed, fits.State);
        Assert.Equal(Limit, fits.Result.Length);
        Assert.Equal(workerId, fits.WorkerId);
        Assert.Equal(0, (await cluster.Store.GetCountsAsync(cluster.Queue)).StaleRejected);
        Assert.Equal("x", Encoding.UTF8.GetString(fits.Result.Span[..1]));
    }
}
