using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Storage;

public sealed class StoreSmokeTests
{
    [Fact]
    public async Task A_task_goes_from_enqueue_through_claim_to_completed()
    {
        var h = await StoreHarness.CreateAsync();
        var enqueued = await h.Store.EnqueueAsync(h.Task());
        var claim = await h.Store.ClaimAsync(h.Queue, "w1", 10, TimeSpan.FromSeconds(30));
        var leased = Assert.Single(claim.Tasks);
        Assert.Equal(enqueued.Id, leased.Id);
        Assert.Equal(1, leased.Attempt);

        var results = await h.Store.CompleteAsync(h.Queue, [new TaskCompletion(leased.Id, leased.LeaseToken, "done"u8.ToArray())]);

        Assert.Equal([TransitionResult.Ok], results);
        var snapshot = await h.Store.GetAsync(leased.Id);
        Assert.Equal(TaskState.Completed, snapshot!.State);
        Assert.Equal("done"u8.ToArray(), snapshot.Result.ToArray());
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 1), (counts.Ready, counts.Leased, counts.Completed));
    }

    [Fact]
    public async Task A_failure_retries_then_dead_letters_and_reaping_works()
    {
        var h = await StoreHarness.CreateAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 2 })).Id;
        var first = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        Assert.Equal([TransitionResult.Retrying], await h.Store.FailAsync(h.Queue, [new TaskFailure(id, first.LeaseToken, "boom", true)]));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 1, TimeSpan.FromSeconds(30))).Tasks);
        h.Advance(TimeSpan.FromSeconds(5));
        var second = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w1", 1, TimeSpan.FromSeconds(1))).Tasks);
        Assert.Equal(2, second.Attempt);
        h.Advance(TimeSpan.FromSeconds(2));
        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 100));
        Assert.Equal(TransitionResult.DeadLettered, reaped.Outcome);
        var (dead, total) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 10);
        Assert.Equal(1, total);
        Assert.Equal("lease expired", dead[0].LastError);
        Assert.Equal(1, await h.Store.ReplayDeadLettersAsync(h.Queue, []));
        var third = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w1", 1, TimeSpan.FromSeconds(1))).Tasks);
        Assert.Equal(1, third.Attempt);
    }
}
