using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class DeadLetterTests : StoreTests
{
    [Fact]
    public async Task Dead_letters_are_listed_oldest_first_by_offset_and_limit_with_the_total()
    {
        var h = await NewStoreAsync();
        var ids = await DeadLetterAsync(h, 5, TimeSpan.FromSeconds(1));

        var (page1, total1) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 2);
        var (page2, total2) = await h.Store.ListDeadLettersAsync(h.Queue, 2, 2);
        var (page3, total3) = await h.Store.ListDeadLettersAsync(h.Queue, 4, 10);
        var (beyond, total4) = await h.Store.ListDeadLettersAsync(h.Queue, 10, 10);

        Assert.Equal([5L, 5L, 5L, 5L], new[] { total1, total2, total3, total4 });
        Assert.Equal(ids[..2], page1.Select(t => t.Id));
        Assert.Equal(ids[2..4], page2.Select(t => t.Id));
        Assert.Equal(ids[4..], page3.Select(t => t.Id));
        Assert.Empty(beyond);
        Assert.All(page1.Concat(page2).Concat(page3), t => Assert.Equal(TaskState.DeadLettered, t.State));
        Assert.Equal(["fatal 0", "fatal 1"], page1.Select(t => t.LastError));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Replaying_one_dead_letter_resets_its_attempts_and_makes_it_claimable()
    {
        var h = await NewStoreAsync();
        var ids = await DeadLetterAsync(h, 3, TimeSpan.FromSeconds(1));

        var replayed = await h.Store.ReplayDeadLettersAsync(h.Queue, [ids[1]]);

        Assert.Equal(1, replayed);
        var snapshot = await SnapshotAsync(h, ids[1]);
        Assert.Equal((TaskState.Ready, 0, false), (snapshot.State, snapshot.Attempt, snapshot.CancelRequested));
        var (rest, total) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 10);
        Assert.Equal(2, total);
        Assert.Equal([ids[0], ids[2]], rest.Select(t => t.Id));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 2, 1), (counts.Ready, counts.DeadLettered, counts.Replayed));
        await AssertConsistentAsync(h);
        var again = await ClaimOneAsync(h);
        Assert.Equal((ids[1], 1), (again.Id, again.Attempt));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, again));
    }

    [Fact]
    public async Task Replaying_all_dead_letters_makes_every_one_claimable_again()
    {
        var h = await NewStoreAsync();
        var ids = await DeadLetterAsync(h, 4, TimeSpan.FromSeconds(1));

        var replayed = await h.Store.ReplayDeadLettersAsync(h.Queue, []);

        Assert.Equal(4, replayed);
        Assert.Equal(0, (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Total);
        await AssertConsistentAsync(h);
        var claimed = await ClaimAllAsync(h);
        Assert.Equal(Sorted(ids), Sorted(claimed.Select(t => t.Id)));
        Assert.All(claimed, t => Assert.Equal(1, t.Attempt));
    }

    [Fact]
    public async Task Replaying_and_purging_all_go_beyond_one_script_batch()
    {
        const int count = 1005;
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, count, _ => h.Task() with { MaxAttempts = 1 });
        var failures = (await ClaimAllAsync(h)).Select(t => new TaskFailure(t.Id, t.LeaseToken, "fatal", false)).ToList();
        Assert.All(await h.Store.FailAsync(h.Queue, failures), r => Assert.Equal(TransitionResult.DeadLettered, r));

        Assert.Equal(count, await h.Store.ReplayDeadLettersAsync(h.Queue, []));
        Assert.Equal(count, (await h.Store.GetCountsAsync(h.Queue)).Ready);
        var again = await ClaimAllAsync(h);
        Assert.All(await h.Store.FailAsync(h.Queue, [.. again.Select(t => new TaskFailure(t.Id, t.LeaseToken, "fatal", false))]), r => Assert.Equal(TransitionResult.DeadLettered, r));
        Assert.Equal(count, await h.Store.PurgeDeadLettersAsync(h.Queue, []));

        Assert.DoesNotContain(await h.QueueKeysAsync(), k => k.Contains(":t:", StringComparison.Ordinal));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Replaying_or_purging_a_task_that_is_not_a_dead_letter_does_nothing()
    {
        var h = await NewStoreAsync();
        var ready = (await h.Store.EnqueueAsync(h.Task())).Id;
        var before = await FingerprintAsync(h);

        Assert.Equal(0, await h.Store.ReplayDeadLettersAsync(h.Queue, [ready, TaskId.New(h.Queue)]));
        Assert.Equal(0, await h.Store.PurgeDeadLettersAsync(h.Queue, [ready, TaskId.New(h.Queue)]));

        Assert.Equal(before, await FingerprintAsync(h));
    }

    [Fact]
    public async Task Purging_one_dead_letter_deletes_it_and_its_idempotency_key()
    {
        var h = await NewStoreAsync();
        var kept = (await DeadLetterAsync(h, 1, TimeSpan.FromSeconds(1)))[0];
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 1, IdempotencyKey = "once" })).Id;
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, await ClaimOneAsync(h), retryable: false));

        var purged = await h.Store.PurgeDeadLettersAsync(h.Queue, [id]);

        Assert.Equal(1, purged);
        Assert.Null(await h.Store.GetAsync(id));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Idempotency(h.Queue, "once")));
        Assert.Equal([kept], (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Tasks.Select(t => t.Id));
        await AssertConsistentAsync(h);
        Assert.False((await h.Store.EnqueueAsync(h.Task() with { IdempotencyKey = "once" })).Duplicate);
    }

    [Fact]
    public async Task Purging_all_dead_letters_deletes_every_one()
    {
        var h = await NewStoreAsync();
        var ids = await DeadLetterAsync(h, 3, TimeSpan.FromSeconds(1));

        Assert.Equal(3, await h.Store.PurgeDeadLettersAsync(h.Queue, []));

        foreach (var id in ids)
        {
            Assert.Null(await h.Store.GetAsync(id));
        }

        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).DeadLettered);
        Assert.DoesNotContain(await h.QueueKeysAsync(), k => k.Contains(":t:", StringComparison.Ordinal) || k.EndsWith(":dead", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_dead_letter_queue_keeps_only_the_newest_when_over_its_maximum_count()
    {
        var h = await NewStoreAsync(options => options.DeadLetterMaxCount = 3);

        var ids = await DeadLetterAsync(h, 5, TimeSpan.FromSeconds(1));

        var (kept, total) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 10);
        Assert.Equal(3, total);
        Assert.Equal(ids[2..], kept.Select(t => t.Id));
        Assert.Null(await h.Store.GetAsync(ids[0]));
        Assert.Null(await h.Store.GetAsync(ids[1]));
        Assert.Equal(5, (await h.Store.GetCountsAsync(h.Queue)).DeadLetteredTotal);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task The_promoter_deletes_dead_letters_older_than_the_maximum_age()
    {
        var h = await NewStoreAsync(options => options.DeadLetterMaxAge = TimeSpan.FromHours(1));
        var old = (await DeadLetterAsync(h, 1, TimeSpan.FromMinutes(40)))[0];
        var young = (await DeadLetterAsync(h, 1, TimeSpan.Zero))[0];

        await h.Store.PromoteAsync(h.Queue);
        Assert.Equal(2, (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Total);
        h.Advance(TimeSpan.FromMinutes(21));
        await h.Store.PromoteAsync(h.Queue);

        Assert.Equal([young], (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Tasks.Select(t => t.Id));
        Assert.Null(await h.Store.GetAsync(old));
        await AssertConsistentAsync(h);
        h.Advance(TimeSpan.FromMinutes(40));
        await h.Store.PromoteAsync(h.Queue);
        Assert.Equal(0, (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Total);
        Assert.Null(await h.Store.GetAsync(young));
    }
}
