using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>The hard execution timeout in renew.lua: an attempt past its timeout plus the grace is not renewed but failed.</summary>
public class ExecutionTimeoutTests : StoreTests
{
    private static readonly TimeSpan s_grace = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_renewal_past_the_timeout_and_the_grace_fails_the_attempt_and_the_late_completion_is_stale()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { ExecutionTimeout = TimeSpan.FromSeconds(1), MaxAttempts = 3 });
        var first = await ClaimOneAsync(h);
        var lease = new LeaseRef(first.Id, first.LeaseToken);
        h.Advance(TimeSpan.FromSeconds(6.5));

        var renew = await h.Store.RenewAsync(h.Queue, [lease], Lease, s_grace);
        var late = await CompleteAsync(h, first, "too late");

        Assert.Equal([TransitionResult.TimedOut], renew.Results);
        Assert.Equal(TransitionResult.StaleLease, late);
        var task = await SnapshotAsync(h, first.Id);
        Assert.Equal(TaskState.Scheduled, task.State);
        Assert.Equal("execution timed out after 1 s (the handler did not stop)", task.LastError);
        Assert.Null(task.LeaseToken);
        Assert.Null(await h.Db.SortedSetScoreAsync(RedisKeys.Leases(h.Queue), first.Id.LocalId));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h, worker: "w2");
        Assert.Equal(2, second.Attempt);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, second, "in time"));
        Assert.Equal("in time", System.Text.Encoding.UTF8.GetString((await SnapshotAsync(h, first.Id)).Result.Span));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Within_the_grace_a_timed_out_attempt_is_still_renewed_so_its_worker_can_report_the_timeout()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { ExecutionTimeout = TimeSpan.FromSeconds(1) });
        var task = await ClaimOneAsync(h);
        h.Advance(TimeSpan.FromSeconds(5.5));

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], Lease, s_grace);

        Assert.Equal([TransitionResult.Ok], renew.Results);
        Assert.Equal(TaskState.Leased, (await SnapshotAsync(h, task.Id)).State);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task, "execution timed out after 1 s"));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_timed_out_last_attempt_is_dead_lettered()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { ExecutionTimeout = TimeSpan.FromSeconds(2), MaxAttempts = 1 });
        var task = await ClaimOneAsync(h);
        h.Advance(TimeSpan.FromSeconds(8));

        var renew = await h.Store.RenewAsync(h.Queue, [new LeaseRef(task.Id, task.LeaseToken)], Lease, s_grace);

        Assert.Equal([TransitionResult.TimedOut], renew.Results);
        var dead = await SnapshotAsync(h, task.Id);
        Assert.Equal(TaskState.DeadLettered, dead.State);
        Assert.Equal("execution timed out after 2 s (the handler did not stop)", dead.LastError);
        Assert.Equal(1, (await h.Store.GetCountsAsync(h.Queue)).DeadLettered);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_task_without_a_timeout_is_renewed_however_long_it_runs_beside_one_that_timed_out()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        await h.Store.EnqueueAsync(h.Task() with { ExecutionTimeout = TimeSpan.FromSeconds(1) });
        var tasks = await ClaimAllAsync(h);
        var untimed = tasks.Single(t => t.ExecutionTimeout is null);
        var timed = tasks.Single(t => t.ExecutionTimeout is not null);
        var leases = tasks.Select(t => new LeaseRef(t.Id, t.LeaseToken)).ToList();

        var answers = new List<(TransitionResult Untimed, TransitionResult Timed)>();
        for (var i = 0; i < 5; i++)
        {
            h.Advance(TimeSpan.FromSeconds(20)); // heartbeats every 20 s for 100 s, each within the 30 s lease
            var renew = await h.Store.RenewAsync(h.Queue, leases, Lease, s_grace);
            answers.Add((renew.Results[tasks.IndexOf(untimed)], renew.Results[tasks.IndexOf(timed)]));
        }

        Assert.All(answers, a => Assert.Equal(TransitionResult.Ok, a.Untimed));
        Assert.Equal([TransitionResult.TimedOut, .. Enumerable.Repeat(TransitionResult.StaleLease, 4)], answers.Select(a => a.Timed));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, untimed));
        await AssertConsistentAsync(h);
    }
}
