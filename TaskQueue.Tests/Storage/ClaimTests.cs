using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class ClaimTests : StoreTests
{
    [Fact]
    public async Task A_claim_leases_at_most_the_requested_number_each_with_a_fresh_token_and_deadline()
    {
        var h = await NewStoreAsync();
        var ids = (await EnqueueManyAsync(h, 5)).Select(r => r.Id).ToList();
        var lease = TimeSpan.FromSeconds(20);

        var before = await NowMsAsync(h);
        var first = await h.Store.ClaimAsync(h.Queue, "worker-a", 3, lease);
        var after = await NowMsAsync(h);

        Assert.Equal(ids.Take(3), first.Tasks.Select(t => t.Id));
        Assert.Equal(3, first.Tasks.Select(t => t.LeaseToken).Distinct().Count());
        Assert.All(first.Tasks, t =>
        {
            Assert.False(string.IsNullOrEmpty(t.LeaseToken));
            Assert.Equal(1, t.Attempt);
            Assert.InRange(t.LeaseDeadline.ToUnixTimeMilliseconds(), before + 20_000, after + 20_000);
        });
        foreach (var task in first.Tasks)
        {
            var snapshot = await SnapshotAsync(h, task.Id);
            Assert.Equal((TaskState.Leased, "worker-a", task.LeaseToken, 1), (snapshot.State, snapshot.WorkerId, snapshot.LeaseToken, snapshot.Attempt));
            Assert.InRange(snapshot.StartedAt!.Value.ToUnixTimeMilliseconds(), before, after);
            Assert.Equal(task.LeaseDeadline.ToUnixTimeMilliseconds(), (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), task.Id.LocalId))!);
        }

        var second = await h.Store.ClaimAsync(h.Queue, "worker-b", 3, lease);
        var third = await h.Store.ClaimAsync(h.Queue, "worker-c", 3, lease);

        Assert.Equal(ids.Skip(3), second.Tasks.Select(t => t.Id));
        Assert.Empty(third.Tasks);
        Assert.Equal(5, first.Tasks.Concat(second.Tasks).Select(t => t.LeaseToken).Distinct().Count());
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 5), (counts.Ready, counts.Leased));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Claiming_an_empty_or_unknown_queue_leases_nothing()
    {
        var h = await NewStoreAsync();

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal((0, 0, 0), (claim.Tasks.Count, claim.Promoted, claim.Expired));
        Assert.Empty(await h.QueueKeysAsync());
    }

    [Fact]
    public async Task Each_claim_of_a_task_counts_one_more_attempt_and_gets_a_new_token()
    {
        var h = await NewStoreAsync(options => options.BackoffJitter = 0);
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 5 })).Id;

        var first = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h, TimeSpan.FromSeconds(10));
        h.Advance(TimeSpan.FromSeconds(11));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
        h.Advance(TimeSpan.FromMinutes(5));
        var third = await ClaimOneAsync(h);

        Assert.Equal([id, id, id], new[] { first.Id, second.Id, third.Id });
        Assert.Equal([1, 2, 3], new[] { first.Attempt, second.Attempt, third.Attempt });
        Assert.Equal(3, new[] { first.LeaseToken, second.LeaseToken, third.LeaseToken }.Distinct().Count());
        Assert.Equal(3, (await SnapshotAsync(h, id)).Attempt);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_claim_with_a_zero_maximum_is_refused()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => h.Store.ClaimAsync(h.Queue, "w1", 0, Lease));

        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Ready);
    }
}
