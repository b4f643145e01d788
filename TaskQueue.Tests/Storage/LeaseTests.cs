using System.Text;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Storage;
using TaskQueue.Testing;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

public class LeaseTests : StoreTests
{
    // ---- renew ----

    [Fact]
    public async Task Renewing_a_lease_extends_its_deadline_so_it_outlives_the_original()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(60));
        h.Advance(TimeSpan.FromSeconds(30));

        var before = await NowMsAsync(h);
        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromSeconds(60));
        var after = await NowMsAsync(h);

        Assert.Equal([TransitionResult.Ok], renew.Results);
        Assert.InRange(renew.Deadline.ToUnixTimeMilliseconds(), before + 60_000, after + 60_000);
        Assert.True(renew.Deadline > task.LeaseDeadline);
        Assert.Equal(renew.Deadline.ToUnixTimeMilliseconds(), (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), task.Id.LocalId))!);
        h.Advance(TimeSpan.FromSeconds(40));
        Assert.Empty(await h.Store.ReapAsync(h.Queue, 10));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Renewing_2500_leases_takes_three_script_calls_of_at_most_1000_and_renews_every_one()
    {
        // A Redis of its own: its command statistics count this test's script calls and nobody else's.
        await using var redis = await RedisServer.StartAsync();
        var store = new RedisTaskStore(redis.Connection, Options.Create(new TaskStoreOptions()), new RedisClockShift());
        const string Queue = "chunked";
        await store.EnqueueBatchAsync([.. Enumerable.Range(0, 2500).Select(i => new NewTask(Queue, "echo", Encoding.UTF8.GetBytes($"t{i}")))]);
        var leased = new List<LeasedTask>();
        while (leased.Count < 2500)
        {
            leased.AddRange((await store.ClaimAsync(Queue, "w1", 500, TimeSpan.FromSeconds(30))).Tasks);
        }

        // One stale lease among them: the chunks keep each result at its lease's place.
        List<LeaseRef> leases = [.. leased.Select(t => new LeaseRef(t.Id, t.LeaseToken))];
        leases[1700] = leases[1700] with { Token = "stale" };
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        await server.ConfigResetStatisticsAsync();
        var renewed = await store.RenewAsync(Queue, leases, TimeSpan.FromSeconds(60));
        var calls = RedisInfo.Parse((await server.ExecuteAsync("INFO", "commandstats")).ToString()).Commands;

        Assert.Equal(3, calls.GetValueOrDefault("evalsha").Calls + calls.GetValueOrDefault("eval").Calls);
        Assert.Equal(2500, renewed.Results.Count);
        Assert.Equal(TransitionResult.StaleLease, renewed.Results[1700]);
        Assert.Equal(2499, renewed.Results.Count(r => r == TransitionResult.Ok));
        Assert.Equal(1000, RedisTaskStore.RenewChunk);
    }

    [Fact]
    public async Task A_token_from_an_earlier_attempt_cannot_renew_complete_fail_or_release()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var first = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h);
        var before = await FingerprintAsync(h);
        var old = new LeaseRef(first.Id, first.LeaseToken);

        var renew = await h.Store.RenewAsync(h.Queue, [old], TimeSpan.FromMinutes(10));
        var complete = await CompleteAsync(h, first, "from the past");
        var fail = await FailAsync(h, first, "from the past", retryable: false);
        var release = await h.Store.ReleaseAsync(h.Queue, [old]);

        Assert.Equal([TransitionResult.StaleLease], renew.Results);
        Assert.Equal(TransitionResult.StaleLease, complete);
        Assert.Equal(TransitionResult.StaleLease, fail);
        Assert.Equal([TransitionResult.StaleLease], release);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, second));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_forged_token_cannot_renew_a_lease()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        var before = await FingerprintAsync(h);

        var renew = await h.Store.RenewAsync(
            h.Queue, [new LeaseRef(task.Id, task.LeaseToken + "x"), new LeaseRef(task.Id, ""), new LeaseRef(task.Id, "forged.1")], TimeSpan.FromMinutes(10));

        Assert.Equal([TransitionResult.StaleLease, TransitionResult.StaleLease, TransitionResult.StaleLease], renew.Results);
        Assert.Equal(before, await FingerprintAsync(h));
    }

    [Fact]
    public async Task An_expired_lease_cannot_be_renewed()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(6));
        var before = await FingerprintAsync(h);

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromMinutes(10));

        Assert.Equal([TransitionResult.StaleLease], renew.Results);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(TransitionResult.Retrying, Assert.Single(await h.Store.ReapAsync(h.Queue, 10)).Outcome);
    }

    [Fact]
    public async Task Renewing_an_unknown_task_reports_not_found()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);

        var unknown = TaskId.New(h.Queue);

        var renew = await h.Store.RenewAsync(
            h.Queue, [new LeaseRef(unknown, "token"), new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromMinutes(1));

        Assert.Equal([TransitionResult.NotFound, TransitionResult.Ok], renew.Results);
        Assert.Null(await h.Store.GetAsync(unknown));
        Assert.Null(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), unknown.LocalId));
    }

    [Fact]
    public async Task Renewing_a_task_whose_cancellation_was_requested_says_so_and_still_extends_the_lease()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(10));
        Assert.Equal(TransitionResult.CancelRequested, (await h.Store.CancelAsync(task.Id)).Result);

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromMinutes(1));

        Assert.Equal([TransitionResult.CancelRequested], renew.Results);
        Assert.Equal(renew.Deadline.ToUnixTimeMilliseconds(), (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), task.Id.LocalId))!);
        await AssertConsistentAsync(h);
    }

    // ---- complete ----

    [Fact]
    public async Task Completing_stores_the_result_releases_the_lease_and_deletes_the_stream_entry()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { Priority = 4 });
        var task = await ClaimOneAsync(h);
        Assert.Equal(1, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 4, "echo")));

        var before = await NowMsAsync(h);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task, "the answer"));
        var after = await NowMsAsync(h);

        var snapshot = await SnapshotAsync(h, task.Id);
        Assert.Equal(TaskState.Completed, snapshot.State);
        Assert.Equal("the answer", Encoding.UTF8.GetString(snapshot.Result.Span));
        Assert.Null(snapshot.LeaseToken);
        Assert.InRange(snapshot.FinishedAt!.Value.ToUnixTimeMilliseconds(), before, after);
        Assert.Null(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), task.Id.LocalId));
        Assert.Equal(0, await h.Db.StreamLengthAsync(RedisKeys.Ready(h.Queue, 4, "echo")));
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((0, 0, 1), (counts.Ready, counts.Leased, counts.Completed));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_second_completion_with_the_same_or_an_old_token_is_stale_and_keeps_the_first_result()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var first = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, second, "first result"));
        var before = await FingerprintAsync(h);

        var again = await CompleteAsync(h, second, "second result");
        var old = await CompleteAsync(h, first, "old result");

        Assert.Equal((TransitionResult.StaleLease, TransitionResult.StaleLease), (again, old));
        Assert.Equal("first result", Encoding.UTF8.GetString((await SnapshotAsync(h, second.Id)).Result.Span));
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Completed);
    }

    [Fact]
    public async Task The_same_task_completed_twice_in_one_batch_counts_once()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);

        var results = await h.Store.CompleteAsync(
            h.Queue, [new TaskCompletion(task.Id, task.LeaseToken, "a"u8.ToArray()), new TaskCompletion(task.Id, task.LeaseToken, "b"u8.ToArray())]);

        Assert.Equal([TransitionResult.Ok, TransitionResult.StaleLease], results);
        Assert.Equal("a", Encoding.UTF8.GetString((await SnapshotAsync(h, task.Id)).Result.Span));
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).Completed);
    }

    [Fact]
    public async Task A_completion_after_the_lease_deadline_is_stale()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        h.Advance(TimeSpan.FromSeconds(6));
        var before = await FingerprintAsync(h);

        Assert.Equal(TransitionResult.StaleLease, await CompleteAsync(h, task, "too late"));

        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal(TaskState.Leased, (await SnapshotAsync(h, task.Id)).State);
        Assert.Equal(0, (await h.Store.GetCountsAsync(h.Queue)).Completed);
    }

    [Fact]
    public async Task Completing_an_unknown_task_reports_not_found()
    {
        var h = await NewStoreAsync();

        var results = await h.Store.CompleteAsync(h.Queue, [new TaskCompletion(TaskId.New(h.Queue), "token", "x"u8.ToArray())]);

        Assert.Equal([TransitionResult.NotFound], results);
        Assert.Empty(await h.QueueKeysAsync());
    }

    // ---- shorten ----

    [Fact]
    public async Task A_shortened_lease_ends_after_the_grace()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 2);
        var shortened = await ClaimOneAsync(h, TimeSpan.FromMinutes(5));
        var untouched = await ClaimOneAsync(h, TimeSpan.FromMinutes(5));

        var before = await NowMsAsync(h);
        var count = await h.Store.ShortenLeasesAsync(h.Queue, [new LeaseRef(shortened.Id, shortened.LeaseToken)], TimeSpan.FromSeconds(30));
        var after = await NowMsAsync(h);

        Assert.Equal(1, count);
        var deadline = (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), shortened.Id.LocalId))!;
        Assert.InRange(deadline, before + 30_000, after + 30_000);
        Assert.Empty(await h.Store.ReapAsync(h.Queue, 10));
        h.Advance(TimeSpan.FromSeconds(31));
        var reaped = Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
        Assert.Equal(shortened.Id, reaped.Id);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, untouched));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Shortening_never_lengthens_a_lease_and_ignores_stale_tokens()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 2);
        var brief = await ClaimOneAsync(h, TimeSpan.FromSeconds(20));
        var other = await ClaimOneAsync(h, TimeSpan.FromMinutes(5));
        var before = await FingerprintAsync(h);

        var longer = await h.Store.ShortenLeasesAsync(h.Queue, [new LeaseRef(brief.Id, brief.LeaseToken)], TimeSpan.FromMinutes(10));
        var stale = await h.Store.ShortenLeasesAsync(
            h.Queue, [new LeaseRef(other.Id, "forged"), new LeaseRef(TaskId.New(h.Queue), "none")], TimeSpan.FromSeconds(1));

        Assert.Equal((0, 0), (longer, stale));
        Assert.Equal(before, await FingerprintAsync(h));
    }

    [Fact]
    public async Task A_worker_that_renews_within_the_grace_keeps_its_lease()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h, TimeSpan.FromMinutes(5));
        await h.Store.ShortenLeasesAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromSeconds(60));
        h.Advance(TimeSpan.FromSeconds(30));

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], TimeSpan.FromMinutes(5));
        h.Advance(TimeSpan.FromSeconds(60));

        Assert.Equal([TransitionResult.Ok], renew.Results);
        Assert.Empty(await h.Store.ReapAsync(h.Queue, 10));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));
    }

    // ---- release ----

    [Fact]
    public async Task A_released_task_is_ready_again_and_its_attempt_does_not_count()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { Priority = 6 })).Id;
        var first = await ClaimOneAsync(h);

        var released = await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(first.Id, first.LeaseToken)]);

        Assert.Equal([TransitionResult.Ok], released);
        var snapshot = await SnapshotAsync(h, id);
        Assert.Equal((TaskState.Ready, 0, null, null), (snapshot.State, snapshot.Attempt, snapshot.WorkerId, snapshot.LeaseToken));
        Assert.Equal((1, 0), ((await h.Store.GetCountsAsync(h.Queue)).Ready, (await h.Store.GetCountsAsync(h.Queue)).Leased));
        await AssertConsistentAsync(h);
        var again = await ClaimOneAsync(h, worker: "w2");
        Assert.Equal((id, 1, 6), (again.Id, again.Attempt, again.Priority));
        Assert.NotEqual(first.LeaseToken, again.LeaseToken);
        Assert.Equal(TransitionResult.StaleLease, await CompleteAsync(h, first));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Releasing_a_retry_keeps_the_attempts_already_used()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h)));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h);
        Assert.Equal(2, second.Attempt);

        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(second.Id, second.LeaseToken)]));

        Assert.Equal(1, (await SnapshotAsync(h, second.Id)).Attempt);
        Assert.Equal(2, (await ClaimOneAsync(h)).Attempt);
    }

    [Fact]
    public async Task Release_is_refused_for_stale_tokens_and_changes_nothing()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        var before = await FingerprintAsync(h);

        var forged = await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(task.Id, "forged"), new LeaseRef(TaskId.New(h.Queue), "x")]);

        Assert.Equal([TransitionResult.StaleLease, TransitionResult.NotFound], forged);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)]));
        var afterRelease = await FingerprintAsync(h);
        Assert.Equal([TransitionResult.StaleLease], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)]));
        Assert.Equal(afterRelease, await FingerprintAsync(h));
        await AssertConsistentAsync(h);
    }
}
