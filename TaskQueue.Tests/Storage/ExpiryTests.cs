using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>ExpiresAfter: a task that has not started within that time of submission is dropped.</summary>
public class ExpiryTests : StoreTests
{
    [Fact]
    public async Task A_task_not_started_before_its_expiry_expires_at_claim()
    {
        var h = await NewStoreAsync();
        var stale = (await h.Store.EnqueueAsync(h.Task(payload: "stale") with { ExpiresAfter = TimeSpan.FromSeconds(5), Priority = 2 })).Id;
        var fresh = (await h.Store.EnqueueAsync(h.Task(payload: "fresh") with { ExpiresAfter = TimeSpan.FromMinutes(5) })).Id;
        Assert.NotNull((await SnapshotAsync(h, stale)).ExpiresAt);
        h.Advance(TimeSpan.FromSeconds(6));

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Equal(1, claim.Expired);
        Assert.Equal(fresh, Assert.Single(claim.Tasks).Id);
        var snapshot = await SnapshotAsync(h, stale);
        Assert.Equal(TaskState.Expired, snapshot.State);
        Assert.NotNull(snapshot.FinishedAt);
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 2, "echo")));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 0, 1), (counts.Expired, counts.Ready, counts.Leased));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_scheduled_task_whose_expiry_passes_while_it_waits_expires_at_promote()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromSeconds(10), ExpiresAfter = TimeSpan.FromSeconds(5) })).Id;
        var keeps = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromSeconds(10), ExpiresAfter = TimeSpan.FromMinutes(5) })).Id;
        h.Advance(TimeSpan.FromSeconds(11));

        var promote = await h.Store.PromoteAsync(h.Queue);

        Assert.Equal((1, 1), (promote.Promoted, promote.Expired));
        Assert.Equal(TaskState.Expired, (await SnapshotAsync(h, id)).State);
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, keeps)).State);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 1, 0), (counts.Expired, counts.Ready, counts.Scheduled));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_claim_that_promotes_an_expired_scheduled_task_reports_it_as_expired()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromSeconds(10), ExpiresAfter = TimeSpan.FromSeconds(5) })).Id;
        h.Advance(TimeSpan.FromSeconds(11));

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease);

        Assert.Empty(claim.Tasks);
        Assert.Equal((0, 1), (claim.Promoted, claim.Expired));
        Assert.Equal(TaskState.Expired, (await SnapshotAsync(h, id)).State);
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Expired);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Expired_tasks_do_not_use_up_the_claim_quota()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 3, _ => h.Task() with { ExpiresAfter = TimeSpan.FromSeconds(1) });
        var fresh = (await EnqueueManyAsync(h, 3)).Select(r => r.Id).ToList();
        h.Advance(TimeSpan.FromSeconds(2));

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 2, Lease);

        Assert.Equal(3, claim.Expired);
        Assert.Equal(fresh.Take(2), claim.Tasks.Select(t => t.Id));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_retry_of_a_task_that_started_in_time_is_not_expired()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.FromSeconds(90));
        var id = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromMinutes(1) })).Id;
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h)));
        h.Advance(TimeSpan.FromSeconds(91));

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease);

        Assert.Equal((1, 0), (claim.Promoted, claim.Expired));
        Assert.Equal((id, 2), (Assert.Single(claim.Tasks).Id, claim.Tasks[0].Attempt));
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Expired);
    }

    [Fact]
    public async Task A_task_handed_back_after_its_expiry_is_not_expired()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromMinutes(1) })).Id;
        var task = await ClaimOneAsync(h, TimeSpan.FromMinutes(5));
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)]));

        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease);

        Assert.Equal(0, claim.Expired);
        Assert.Equal(id, Assert.Single(claim.Tasks).Id);
    }

    [Fact]
    public async Task A_dead_letter_replayed_after_its_expiry_is_claimable()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromMinutes(5), MaxAttempts = 1 })).Id;
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, await ClaimOneAsync(h)));
        h.Advance(TimeSpan.FromHours(1));

        Assert.Equal(1, await h.Store.ReplayDeadLettersAsync(h.Queue, [id]));
        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease);

        Assert.Equal(0, claim.Expired);
        Assert.Equal((id, 1), (Assert.Single(claim.Tasks).Id, claim.Tasks[0].Attempt));
    }

    [Fact]
    public async Task A_task_due_or_expiring_in_the_far_future_can_still_be_read()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromDays(365.25 * 7000), ExpiresAfter = TimeSpan.FromDays(365.25 * 9500) })).Id;

        var snapshot = await SnapshotAsync(h, id);

        Assert.Equal(TaskState.Scheduled, snapshot.State);
        Assert.True(snapshot.DueAt > DateTimeOffset.UtcNow.AddYears(6000));
        Assert.True(snapshot.ExpiresAt > snapshot.DueAt);
    }
}
