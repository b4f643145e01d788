using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class FailureTests : StoreTests
{
    // ---- fail ----

    [Fact]
    public async Task A_retryable_failure_schedules_the_retry_within_the_jittered_backoff_window()
    {
        var h = await NewStoreAsync(options =>
        {
            options.BackoffInitial = TimeSpan.FromSeconds(60);
            options.BackoffJitter = 0.5;
        });
        await EnqueueManyAsync(h, 20);
        var tasks = await ClaimAllAsync(h);

        var before = await NowMsAsync(h);
        var results = await h.Store.FailAsync(h.Queue, [.. tasks.Select(t => new TaskFailure(t.Id, t.LeaseToken, "flaky " + t.Id.LocalId, true))]);
        var after = await NowMsAsync(h);

        Assert.All(results, r => Assert.Equal(TransitionResult.Retrying, r));
        var dues = new List<long>();
        foreach (var task in tasks)
        {
            var snapshot = await SnapshotAsync(h, task.Id);
            Assert.Equal(TaskState.Scheduled, snapshot.State);
            Assert.Equal("flaky " + task.Id.LocalId, snapshot.LastError);
            Assert.Equal(1, snapshot.Attempt);
            Assert.Null(snapshot.LeaseToken);
            var due = snapshot.DueAt!.Value.ToUnixTimeMilliseconds();
            Assert.InRange(due, before + 30_000, after + 60_000);
            Assert.Equal(due, (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Scheduled(h.Queue), task.Id.LocalId))!);
            dues.Add(due);
        }

        Assert.True(dues.Distinct().Count() > 1, "The jitter should spread the retries of one batch.");
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 20, 20, 20), (counts.Ready, counts.Leased, counts.Scheduled, counts.Failed, counts.Retried));
        await AssertConsistentAsync(h);
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 100, Lease)).Tasks);
        h.Advance(TimeSpan.FromSeconds(61));
        Assert.Equal(20, (await ClaimAllAsync(h)).Count(t => t.Attempt == 2));
    }

    [Fact]
    public async Task A_retry_without_backoff_is_ready_again_at_once_and_every_broker_hears_of_it_once_per_call()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.Zero);
        var announced = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var subscriber = h.Redis.Connection.GetSubscriber();
        var channel = StackExchange.Redis.RedisChannel.Literal(RedisKeys.ReadyChannel);
        await subscriber.SubscribeAsync(channel, (_, queue) => announced.Enqueue(queue!));
        try
        {
            await EnqueueManyAsync(h, 6, i => h.Task(payload: $"p{i}") with { Priority = i % 3 });
            var tasks = await ClaimAllAsync(h);

            var results = await h.Store.FailAsync(h.Queue, [.. tasks.Select(t => new TaskFailure(t.Id, t.LeaseToken, "flaky", true))]);

            Assert.All(results, r => Assert.Equal(TransitionResult.Retrying, r));
            foreach (var task in tasks)
            {
                var snapshot = await SnapshotAsync(h, task.Id);
                Assert.Equal((TaskState.Ready, "flaky", 1), (snapshot.State, snapshot.LastError, snapshot.Attempt));
                Assert.Null(snapshot.LeaseToken);
            }

            var counts = await h.Store.GetCountsAsync(h.Queue);
            Assert.Equal((6, 0, 0, 6, 6), (counts.Ready, counts.Leased, counts.Scheduled, counts.Failed, counts.Retried));
            await AssertConsistentAsync(h);
            // No clock advance and no promoter: claimable right away, in priority order, on attempt 2.
            var again = await ClaimAllAsync(h);
            Assert.Equal(6, again.Count(t => t.Attempt == 2));
            // Pub/sub keeps Redis's order: once a marker published after the call arrives, every announcement has.
            var marker = "marker-" + Guid.NewGuid().ToString("N");
            await h.Db.PublishAsync(channel, marker);
            await Eventually.TrueAsync(() => announced.Contains(marker), TimeSpan.FromSeconds(5), "the marker", Poll);
            Assert.Equal([h.Queue], announced.Where(q => q == h.Queue));
        }
        finally
        {
            await subscriber.UnsubscribeAsync(channel);
        }
    }

    [Fact]
    public async Task An_expired_lease_without_backoff_is_ready_again_at_once()
    {
        var h = await NewStoreAsync(options => options.BackoffInitial = TimeSpan.Zero);
        await EnqueueManyAsync(h, 3);
        var tasks = await ClaimAllAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(6));

        var reaped = await h.Store.ReapAsync(h.Queue, 100);

        Assert.Equal(3, reaped.Count);
        Assert.All(reaped, r => Assert.Equal((TransitionResult.Retrying, "w1", 1), (r.Outcome, r.WorkerId, r.Attempt)));
        Assert.Equal((3, 0, 0), await ReadyLeasedScheduledAsync(h));
        await AssertConsistentAsync(h);
        Assert.Equal(3, (await ClaimAllAsync(h)).Count(t => t.Attempt == 2));
    }

    private static async Task<(long, long, long)> ReadyLeasedScheduledAsync(StoreHarness h)
    {
        var counts = await h.Store.GetCountsAsync(h.Queue);
        return (counts.Ready, counts.Leased, counts.Scheduled);
    }

    [Fact]
    public async Task The_backoff_grows_with_each_failed_attempt()
    {
        var policy = new BackoffPolicy(TimeSpan.FromSeconds(1), 3, TimeSpan.FromHours(1), 0);
        var h = await NewStoreAsync(options =>
        {
            options.BackoffInitial = policy.Initial;
            options.BackoffMultiplier = policy.Multiplier;
            options.BackoffMax = policy.Max;
            options.BackoffJitter = policy.Jitter;
        });
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 5 });

        var delays = new List<(long Min, long Max)>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var task = await ClaimOneAsync(h);
            Assert.Equal(attempt, task.Attempt);
            var before = await NowMsAsync(h);
            Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task));
            var after = await NowMsAsync(h);
            var due = (await SnapshotAsync(h, task.Id)).DueAt!.Value.ToUnixTimeMilliseconds();
            delays.Add((due - after, due - before));
            h.Advance(TimeSpan.FromMilliseconds(due - before));
        }

        long[] nominal = [1_000, 3_000, 9_000];
        Assert.Equal(nominal, new[] { 1, 2, 3 }.Select(a => (long)policy.NominalDelay(a).TotalMilliseconds));
        for (var i = 0; i < 3; i++)
        {
            Assert.InRange(nominal[i], delays[i].Min, delays[i].Max);
        }
    }

    [Fact]
    public async Task The_backoff_stops_growing_at_its_cap()
    {
        var h = await NewStoreAsync(options =>
        {
            options.BackoffInitial = TimeSpan.FromSeconds(1);
            options.BackoffMultiplier = 2;
            options.BackoffMax = TimeSpan.FromSeconds(3);
            options.BackoffJitter = 0;
        });
        await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 6 });

        var delays = new List<(long Min, long Max)>();
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            var task = await ClaimOneAsync(h);
            var before = await NowMsAsync(h);
            Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task));
            var after = await NowMsAsync(h);
            var due = (await SnapshotAsync(h, task.Id)).DueAt!.Value.ToUnixTimeMilliseconds();
            delays.Add((due - after, due - before));
            h.Advance(TimeSpan.FromMilliseconds(due - before));
        }

        long[] nominal = [1_000, 2_000, 3_000, 3_000, 3_000];
        for (var i = 0; i < nominal.Length; i++)
        {
            Assert.InRange(nominal[i], delays[i].Min, delays[i].Max);
        }
    }

    [Fact]
    public async Task A_task_that_fails_its_last_attempt_is_dead_lettered_with_its_error()
    {
        var h = await NewStoreAsync(options => options.DefaultMaxAttempts = 2);
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h), "first"));
        h.Advance(TimeSpan.FromMinutes(5));
        var last = await ClaimOneAsync(h);

        var before = await NowMsAsync(h);
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, last, "final straw"));
        var after = await NowMsAsync(h);

        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.DeadLettered, "final straw", 2), (snapshot.State, snapshot.LastError, snapshot.Attempt));
        Assert.InRange((long)(await h.Db.SortedSetScoreAsync(RedisKeys.DeadLetters(h.Queue), id.LocalId))!, before, after);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 1, 1, 2, 1), (counts.Scheduled, counts.Leased, counts.DeadLettered, counts.DeadLetteredTotal, counts.Failed, counts.Retried));
        h.Advance(TimeSpan.FromHours(1));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        var (dead, total) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 10);
        Assert.Equal(1, total);
        Assert.Equal("final straw", Assert.Single(dead).LastError);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_non_retryable_failure_dead_letters_at_once()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 10 })).Id;

        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, await ClaimOneAsync(h), "bad input", retryable: false));

        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.DeadLettered, "bad input", 1), (snapshot.State, snapshot.LastError, snapshot.Attempt));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 0), (counts.DeadLettered, counts.Retried));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_failure_with_a_stale_token_is_rejected_and_changes_nothing()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(10));
        var before = await FingerprintAsync(h);

        var forged = await h.Store.FailAsync(h.Queue, [new TaskFailure(task.Id, "forged", "boom", false), new TaskFailure(TaskId.New(h.Queue), "x", "boom", true)]);
        h.Advance(TimeSpan.FromSeconds(11));
        var late = await FailAsync(h, task, "late", retryable: false);

        Assert.Equal([TransitionResult.StaleLease, TransitionResult.NotFound], forged);
        Assert.Equal(TransitionResult.StaleLease, late);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Failed);
    }

    [Fact]
    public async Task A_second_failure_report_of_the_same_attempt_is_stale()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task, "once"));
        var before = await FingerprintAsync(h);

        Assert.Equal(TransitionResult.StaleLease, await FailAsync(h, task, "twice", retryable: false));

        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal("once", (await SnapshotAsync(h, task.Id)).LastError);
    }

    // ---- reap ----

    [Fact]
    public async Task Reaping_sends_expired_leases_down_the_failure_path_and_leaves_live_ones_alone()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 2);
        var expiring = await ClaimOneAsync(h, TimeSpan.FromSeconds(30), worker: "slow-worker");
        var live = await ClaimOneAsync(h, TimeSpan.FromMinutes(5), worker: "good-worker");
        Assert.Empty(await h.Store.ReapAsync(h.Queue, 10));
        h.Advance(TimeSpan.FromSeconds(31));

        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

        Assert.Equal((expiring.Id, "slow-worker", TransitionResult.Retrying), (reaped.Id, reaped.WorkerId, reaped.Outcome));
        var snapshot = await SnapshotAsync(h, expiring.Id);
        // A worker's crash is not the task's failure: ready again at once (CrashRedispatchTests), the attempt counted.
        Assert.Equal((TaskState.Ready, "lease expired", 1), (snapshot.State, snapshot.LastError, snapshot.Attempt));
        Assert.Equal(TaskState.Leased, (await SnapshotAsync(h, live.Id)).State);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 1, 0, 1, 1), (counts.Ready, counts.Leased, counts.Scheduled, counts.Failed, counts.Retried));
        await AssertConsistentAsync(h);
        Assert.Equal(TransitionResult.StaleLease, await CompleteAsync(h, expiring));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, live));
        Assert.Empty(await h.Store.ReapAsync(h.Queue, 10));
    }

    [Fact]
    public async Task A_lease_expiring_on_the_last_attempt_dead_letters_the_task()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 1 })).Id;
        await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(6));

        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 10));

        Assert.Equal(TransitionResult.DeadLettered, reaped.Outcome);
        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.DeadLettered, "lease expired"), (snapshot.State, snapshot.LastError));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Reaping_takes_at_most_the_requested_number()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 5);
        await ClaimAllAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(6));

        var first = await h.Store.ReapAsync(h.Queue, 2);
        var rest = await h.Store.ReapAsync(h.Queue, 10);

        Assert.Equal((2, 3), (first.Count, rest.Count));
        Assert.Equal(5, first.Concat(rest).Select(r => r.Id).Distinct().Count());
        await AssertConsistentAsync(h);
    }
}
