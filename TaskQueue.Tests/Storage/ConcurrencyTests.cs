using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class ConcurrencyTests : StoreTests
{
    [Fact]
    public async Task Racing_claimers_lease_every_task_exactly_once()
    {
        const int count = 2000;
        const int claimers = 6;
        var h = await NewStoreAsync();
        var ids = new List<TaskId>();
        for (var chunk = 0; chunk < count / 500; chunk++)
        {
            ids.AddRange((await EnqueueManyAsync(h, 500, i => h.Task(payload: "t" + i) with { Priority = i % 4 })).Select(r => r.Id));
        }

        var perClaimer = await Task.WhenAll(Enumerable.Range(0, claimers).Select(async n =>
        {
            await Task.Yield();
            var mine = new List<LeasedTask>();
            while (true)
            {
                var claim = await h.Store.ClaimAsync(h.Queue, "worker-" + n, 3 + n, Lease);
                if (claim.Tasks.Count == 0)
                {
                    return mine;
                }

                mine.AddRange(claim.Tasks);
            }
        }));

        var all = perClaimer.SelectMany(t => t).ToList();
        Assert.Equal(count, all.Count);
        Assert.Equal(Sorted(ids), Sorted(all.Select(t => t.Id)));
        Assert.Equal(count, all.Select(t => t.LeaseToken).Distinct().Count());
        Assert.All(all, t => Assert.Equal(1, t.Attempt));
        Assert.True(perClaimer.Count(c => c.Count > 0) > 1, "More than one claimer should have won some tasks.");
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, count), (counts.Ready, counts.Leased));
        for (var n = 0; n < claimers; n++)
        {
            var sample = perClaimer[n].FirstOrDefault();
            if (sample is not null)
            {
                Assert.Equal("worker-" + n, (await SnapshotAsync(h, sample.Id)).WorkerId);
            }
        }

        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Concurrent_reapers_reclaim_each_expired_lease_exactly_once()
    {
        const int count = 300;
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, count, _ => h.Task() with { MaxAttempts = 5 });
        var leased = await ClaimAllAsync(h, TimeSpan.FromSeconds(5));
        await EnqueueManyAsync(h, 10);
        var live = await ClaimAllAsync(h, TimeSpan.FromMinutes(10));
        h.Advance(TimeSpan.FromSeconds(6));

        var reaps = await Task.WhenAll(ReapUntilEmptyAsync(h, 7), ReapUntilEmptyAsync(h, 11), ReapOnceAsync(h, 1000));

        var reaped = reaps.SelectMany(r => r).ToList();
        Assert.Equal(count, reaped.Count);
        Assert.Equal(Sorted(leased.Select(t => t.Id)), Sorted(reaped.Select(r => r.Id)));
        Assert.All(reaped, r => Assert.Equal(TransitionResult.Retrying, r.Outcome));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        // Ready again at once (a crash is no failure of the task), each once.
        Assert.Equal((count, count, count, live.Count), (counts.Failed, counts.Retried, counts.Ready, counts.Leased));
        foreach (var task in leased.Take(20))
        {
            Assert.Equal(1, (await SnapshotAsync(h, task.Id)).Attempt);
        }

        await AssertConsistentAsync(h);
        h.Advance(TimeSpan.FromMinutes(5));
        var retries = await ClaimAllAsync(h);
        Assert.Equal(count, retries.Count);
        Assert.All(retries, t => Assert.Equal(2, t.Attempt));
    }

    [Fact]
    public async Task Completions_racing_the_reaper_at_the_deadline_settle_each_task_once()
    {
        const int count = 200;
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, count);
        var leased = await ClaimAllAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(20));

        var completing = Task.WhenAll(leased.Select(t => CompleteAsync(h, t)));
        var reaped = new List<ReapedLease>();
        while (!completing.IsCompleted)
        {
            reaped.AddRange(await h.Store.ReapAsync(h.Queue, 5));
        }

        var completions = await completing;
        h.Advance(TimeSpan.FromSeconds(1));
        reaped.AddRange(await h.Store.ReapAsync(h.Queue, 1000));

        var completed = leased.Where((_, i) => completions[i] == TransitionResult.Ok).Select(t => t.Id).ToHashSet();
        Assert.All(completions, c => Assert.True(c is TransitionResult.Ok or TransitionResult.StaleLease, c.ToString()));
        Assert.DoesNotContain(reaped, r => completed.Contains(r.Id));
        Assert.Equal(count, completed.Count + reaped.Count);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((completed.Count, reaped.Count, 0), (counts.Completed, counts.Failed, counts.Leased));
        await AssertConsistentAsync(h);
    }

    private static async Task<List<ReapedLease>> ReapOnceAsync(StoreHarness h, int max) => [.. await h.Store.ReapAsync(h.Queue, max)];

    private static async Task<List<ReapedLease>> ReapUntilEmptyAsync(StoreHarness h, int batch)
    {
        await Task.Yield();
        var all = new List<ReapedLease>();
        while (true)
        {
            var reaped = await h.Store.ReapAsync(h.Queue, batch);
            if (reaped.Count == 0)
            {
                return all;
            }

            all.AddRange(reaped);
        }
    }
}
