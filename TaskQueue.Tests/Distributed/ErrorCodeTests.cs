using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Distributed;

[Collection(DistributedCollection.Name)]
public sealed class ErrorCodeTests
{
    private static async Task<StatusCode> CodeOf(Func<Task> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        return error.StatusCode;
    }

    [Fact]
    public async Task Bad_requests_get_the_right_status_and_change_nothing()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var keysBefore = await cluster.Redis.Connection.GetServer(cluster.Redis.Connection.GetEndPoints()[0]).DatabaseSizeAsync();

        var badQueue = cluster.Task("echo");
        badQueue.Queue = "has:colon";
        var tooBig = cluster.Task("echo");
        tooBig.Payload = Google.Protobuf.ByteString.CopyFrom(new byte[(1024 * 1024) + 1]);
        var badAttempts = cluster.Task("echo");
        badAttempts.MaxAttempts = -1;
        var negativeDelay = cluster.Task("echo");
        negativeDelay.Delay = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromSeconds(-1));

        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.SubmitAsync(new SubmitRequest { Task = badQueue }).ResponseAsync));
        Assert.Equal(StatusCode.ResourceExhausted, await CodeOf(() => client.SubmitAsync(new SubmitRequest { Task = tooBig }).ResponseAsync));
        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.SubmitAsync(new SubmitRequest { Task = badAttempts }).ResponseAsync));
        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.SubmitAsync(new SubmitRequest { Task = negativeDelay }).ResponseAsync));
        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { cluster.Task("echo"), badQueue } }).ResponseAsync));
        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.GetAsync(new GetTaskRequest { TaskId = "garbage" }).ResponseAsync));
        Assert.Equal(StatusCode.NotFound, await CodeOf(() => client.GetAsync(new GetTaskRequest { TaskId = $"{cluster.Queue}:{Guid.NewGuid():N}" }).ResponseAsync));
        Assert.Equal(StatusCode.NotFound, await CodeOf(() => client.CancelAsync(new CancelTaskRequest { TaskId = $"{cluster.Queue}:{Guid.NewGuid():N}" }).ResponseAsync));
        Assert.Equal(StatusCode.InvalidArgument, await CodeOf(() => client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = cluster.Queue }).ResponseAsync));
        var keysAfter = await cluster.Redis.Connection.GetServer(cluster.Redis.Connection.GetEndPoints()[0]).DatabaseSizeAsync();
        Assert.Empty(await new StoreKeys(cluster).ListAsync());
        Assert.True(keysAfter <= keysBefore + 1000, "nothing of this queue was written (other tests share the server)");

        var done = (await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") })).TaskId;
        await client.CancelAsync(new CancelTaskRequest { TaskId = done });
        Assert.Equal(StatusCode.FailedPrecondition, await CodeOf(async () =>
        {
            await cluster.Store.EnqueueAsync(new Broker.Storage.NewTask(cluster.Queue, "echo", Array.Empty<byte>()));
            var claimed = await cluster.Store.ClaimAsync(cluster.Queue, "w", 1, TimeSpan.FromSeconds(30));
            await cluster.Store.CompleteAsync(cluster.Queue, [new Broker.Storage.TaskCompletion(claimed.Tasks[0].Id, claimed.Tasks[0].LeaseToken, Array.Empty<byte>())]);
            await client.CancelAsync(new CancelTaskRequest { TaskId = claimed.Tasks[0].Id.ToString() });
        }));
    }

    [Fact]
    public async Task While_redis_is_down_submits_fail_with_unavailable_and_the_broker_recovers_by_itself()
    {
        var redis = await RedisServer.StartAsync();
        await using (redis)
        {
            await using var cluster = await TaskQueueCluster.StartAsync(redis);
            await cluster.StartBrokerAsync();
            var client = cluster.Client();
            await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") });

            redis.Kill();
            var code = await CodeOf(() => client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") }, deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
            await using var restarted = await RedisServer.StartAsync(redis.DataDirectory, redis.Port);

            Assert.Equal(StatusCode.Unavailable, code);
            await Eventually.TrueAsync(
                async () =>
                {
                    try
                    {
                        await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") });
                        return true;
                    }
                    catch (RpcException)
                    {
                        return false;
                    }
                },
                TimeSpan.FromSeconds(30),
                cluster.Diagnostics);
        }
    }

    private sealed class StoreKeys(TaskQueueCluster cluster)
    {
        public async Task<List<string>> ListAsync()
        {
            var server = cluster.Redis.Connection.GetServer(cluster.Redis.Connection.GetEndPoints()[0]);
            var keys = new List<string>();
            await foreach (var key in server.KeysAsync(pattern: Broker.Storage.RedisKeys.QueuePrefix(cluster.Queue) + "*"))
            {
                keys.Add(key!);
            }

            return keys;
        }
    }
}
