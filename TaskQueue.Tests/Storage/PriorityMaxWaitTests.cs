using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// The starvation bound (TaskStoreOptions.PriorityMaxWait, claim.lua). Moving the store's clock past the max wait
/// makes every task waiting at that moment overdue (stream ids carry Redis's real time); so does every task
/// submitted after the move, which is what an overload of high-priority work looks like.
/// </summary>
public class PriorityMaxWaitTests : StoreTests
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Within_the_max_wait_fresh_high_priority_work_goes_first()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = MaxWait);
        await h.Store.EnqueueAsync(h.Task() with { Priority = 0 });
        var high = await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 3).Select(_ => h.Task() with { Priority = 9 })]);

        var first = await ClaimOneByOneAsync(h, 3);

        Assert.Equal(high.Select(r => r.Id), first.Select(t => t.Id));
    }

    [Fact]
    public async Task A_low_priority_task_that_waited_past_the_max_wait_goes_before_fresh_high_priority_work()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = TimeSpan.FromMilliseconds(300));
        var old = (await h.Store.EnqueueAsync(h.Task() with { Priority = 0 })).Id;
        var waited = DateTime.UtcNow;
        await Eventually.TrueAsync(() => Task.FromResult(DateTime.UtcNow - waited > TimeSpan.FromMilliseconds(500)), TimeSpan.FromSeconds(5), () => "clock");
        await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 5).Select(_ => h.Task() with { Priority = 9 })]);

        var first = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", 1, Lease)).Tasks);

        Assert.Equal(old, first.Id);
    }

    [Fact]
    public async Task Five_low_priority_tasks_start_within_ten_one_slot_claims_after_the_max_wait_under_an_overload_of_high_priority_work()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = MaxWait);
        var low = (await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 5).Select(_ => h.Task() with { Priority = 0 })]))
            .Select(r => r.Id).ToList();
        await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 100).Select(_ => h.Task() with { Priority = 9 })]);
        Assert.All(await ClaimOneByOneAsync(h, 10), t => Assert.Equal(9, t.Priority)); // strict until the max wait

        h.Advance(MaxWait + TimeSpan.FromSeconds(1));
        // The overload goes on: high-priority work keeps arriving between the claims.
        var next = new List<LeasedTask>();
        for (var i = 0; i < 10; i++)
        {
            await h.Store.EnqueueAsync(h.Task() with { Priority = 9 });
            next.AddRange(await ClaimOneByOneAsync(h, 1));
        }

        Assert.Equal(Sorted(low), Sorted(next.Where(t => t.Priority == 0).Select(t => t.Id)));
        Assert.Equal(5, next.Count(t => t.Priority == 9)); // the overdue lanes take turns: high work is not starved either
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task One_slot_claims_serve_every_overdue_lane_in_turn()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = MaxWait);
        int[] priorities = [0, 3, 6, 9];
        foreach (var priority in priorities)
        {
            await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 3).Select(_ => h.Task() with { Priority = priority })]);
        }

        h.Advance(MaxWait + TimeSpan.FromSeconds(1));
        var rounds = new List<int[]>();
        for (var round = 0; round < 3; round++)
        {
            rounds.Add([.. (await ClaimOneByOneAsync(h, 4)).Select(t => t.Priority).Order()]);
        }

        Assert.All(rounds, round => Assert.Equal(priorities, round));
    }

    [Fact]
    public async Task A_claim_of_many_takes_one_task_from_each_overdue_lane_then_fills_by_priority()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = MaxWait);
        foreach (var priority in new[] { 0, 5, 9 })
        {
            await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 5).Select(_ => h.Task() with { Priority = priority })]);
        }

        h.Advance(MaxWait + TimeSpan.FromSeconds(1));
        var claimed = (await h.Store.ClaimAsync(h.Queue, "w", 6, Lease)).Tasks;

        Assert.Equal([0, 5, 9, 9, 9, 9], claimed.Select(t => t.Priority).Order());
    }

    [Fact]
    public async Task With_no_max_wait_priority_is_strict_however_long_low_priority_work_waited()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = TimeSpan.Zero);
        await h.Store.EnqueueAsync(h.Task() with { Priority = 0 });
        h.Advance(TimeSpan.FromHours(1));
        var high = await h.Store.EnqueueBatchAsync([.. Enumerable.Range(0, 3).Select(_ => h.Task() with { Priority = 9 })]);

        var first = await ClaimOneByOneAsync(h, 3);

        Assert.Equal(high.Select(r => r.Id), first.Select(t => t.Id));
    }

    [Fact]
    public async Task A_lone_overdue_lane_of_one_task_type_does_not_hold_up_another_types_workers()
    {
        var h = await NewStoreAsync(o => o.PriorityMaxWait = MaxWait);
        await h.Store.EnqueueAsync(h.Task("resize") with { Priority = 0 });
        var echo = await h.Store.EnqueueAsync(h.Task("echo") with { Priority = 9 });
        h.Advance(MaxWait + TimeSpan.FromSeconds(1));

        var claimed = Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", ["echo"], 1, Lease)).Tasks);

        Assert.Equal(echo.Id, claimed.Id);
    }

    private static async Task<List<LeasedTask>> ClaimOneByOneAsync(StoreHarness h, int count)
    {
        var claimed = new List<LeasedTask>();
        for (var i = 0; i < count; i++)
        {
            claimed.Add(Assert.Single((await h.Store.ClaimAsync(h.Queue, "w", 1, Lease)).Tasks));
        }

        return claimed;
    }
}
