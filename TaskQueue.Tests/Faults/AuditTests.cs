using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Duration = Google.Protobuf.WellKnownTypes.Duration;

namespace TaskQueue.Tests.Faults;

/// <summary>The audit trail through a real broker: admin actions, done or refused, read back with ListAuditEntries.</summary>
[Collection(DistributedCollection.Name)]
public sealed class AuditTests
{
    [Fact]
    public async Task Admin_actions_are_recorded_with_identity_and_outcome_and_read_back_newest_first_page_by_page()
    {
        // A Redis of its own: the trail is one stream for every queue.
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await TaskQueueCluster.StartAsync(redis);
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var later = cluster.Task("echo", "later");
        later.Delay = Duration.FromTimeSpan(TimeSpan.FromHours(1));
        var id = (await client.SubmitAsync(new SubmitRequest { Task = later })).TaskId;
        var unknown = TaskId.New(cluster.Queue).ToString();

        await client.CancelAsync(new CancelTaskRequest { TaskId = id });
        // Cancelling a cancelled task changes nothing and says so again (recorded all the same).
        var again = await client.CancelAsync(new CancelTaskRequest { TaskId = id });
        var missing = await Assert.ThrowsAsync<RpcException>(() => client.CancelAsync(new CancelTaskRequest { TaskId = unknown }).ResponseAsync);
        await client.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Queue = cluster.Queue, All = true });
        await client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = "other-queue", All = true });
        // Reads are not admin actions: nothing recorded.
        await client.GetAsync(new GetTaskRequest { TaskId = id });

        var all = await client.ListAuditEntriesAsync(new ListAuditEntriesRequest());
        var mine = await client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = cluster.Queue, Limit = 2 });
        var rest = await client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = cluster.Queue, Limit = 2, Before = mine.NextBefore });
        var badLimit = await Assert.ThrowsAsync<RpcException>(() => client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Limit = 5000 }).ResponseAsync);

        Assert.Equal((Protocol.V1.TaskState.Cancelled, StatusCode.NotFound), (again.State, missing.StatusCode));
        Assert.Equal(
            [
                ("dead-letters.replay", "other-queue", "all", "ok: 0 replayed"),
                ("dead-letters.purge", cluster.Queue, "all", "ok: 0 purged"),
                ("cancel", cluster.Queue, unknown, "not-found"),
                ("cancel", cluster.Queue, id, "ok: cancelled"),
                ("cancel", cluster.Queue, id, "ok: cancelled"),
            ],
            all.Entries.Select(e => (e.Action, e.Queue, e.Target, e.Outcome)));
        // One caller did it all: the name authentication gave it ("anonymous" without security).
        Assert.Single(all.Entries.Select(e => e.Identity).Distinct());
        Assert.False(string.IsNullOrEmpty(all.Entries[0].Identity));
        Assert.True(all.Entries.Zip(all.Entries.Skip(1)).All(pair => pair.First.Time >= pair.Second.Time));
        Assert.Equal("", all.NextBefore);
        Assert.Equal(["dead-letters.purge", "cancel"], mine.Entries.Select(e => e.Action));
        Assert.Equal([unknown], mine.Entries.Skip(1).Select(e => e.Target));
        Assert.Equal([id, id], rest.Entries.Select(e => e.Target));
        Assert.Equal("", rest.NextBefore);
        Assert.Equal(StatusCode.InvalidArgument, badLimit.StatusCode);
    }

    [Fact]
    public async Task The_trail_keeps_about_its_configured_number_of_entries()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await TaskQueueCluster.StartAsync(redis, brokerSettings: new Dictionary<string, string> { ["TaskQueue__Audit__MaxEntries"] = "10" });
        await cluster.StartBrokerAsync();
        var client = cluster.Client();

        for (var i = 0; i < 300; i++)
        {
            await client.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Queue = cluster.Queue, All = true });
        }

        var length = await redis.Connection.GetDatabase().StreamLengthAsync(RedisKeys.Audit);
        Assert.InRange(length, 10, 10 + 100);
        Assert.Equal(length, (await client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Limit = 1000 })).Entries.Count);
    }
}
