using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// A task's attempt history (Scripts/lib/settle.lua's record_attempt, <see cref="AttemptHistory"/>): every failed
/// attempt with its error, worker and outcome, capped at the newest <see cref="RedisKeys.AttemptHistoryCap"/>, and kept,
/// expired and deleted with the task's hash.
/// </summary>
public sealed class AttemptHistoryTests
{
    [Fact]
    public async Task Each_failure_and_lost_lease_is_recorded_oldest_first_and_the_history_expires_with_the_completed_task()
    {
        var h = await StoreHarness.CreateAsync();
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 5 })).Id;

        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h, worker: "w1"), "boom one"));
        h.Advance(TimeSpan.FromMinutes(5));
        await ClaimOneAsync(h, TimeSpan.FromSeconds(10), worker: "w2");
        h.Advance(TimeSpan.FromSeconds(11));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10)); // w2 crashed: ready again at once
        var last = await ClaimOneAsync(h, worker: "w3");
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, last));

        var history = await new AttemptHistory(h.Redis.Connection).ReadAsync(id);
        Assert.Equal(
            [(1, "boom one", "w1", "retrying"), (2, "lease expired", "w2", "reclaimed")],
            history.Select(a => (a.Attempt, a.Error, a.WorkerId, a.Outcome)));
        Assert.True(history[0].FinishedAt < history[1].FinishedAt);
        Assert.Equal("1", (string?)await h.Db.HashGetAsync(RedisKeys.Task(id), TaskFields.AttemptHistory));
        // The completed task is kept for its retention, and its history for exactly as long.
        var taskTtl = await h.Db.KeyTimeToLiveAsync(RedisKeys.Task(id));
        var historyTtl = await h.Db.KeyTimeToLiveAsync(RedisKeys.Attempts(id));
        Assert.NotNull(taskTtl);
        Assert.NotNull(historyTtl);
        Assert.InRange(historyTtl.Value, taskTtl.Value - TimeSpan.FromSeconds(5), taskTtl.Value + TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task The_history_keeps_only_the_newest_attempts_up_to_the_cap()
    {
        var h = await StoreHarness.CreateAsync();
        const int Failures = RedisKeys.AttemptHistoryCap + 5;
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = Failures + 1 })).Id;
        for (var i = 1; i <= Failures; i++)
        {
            Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h), $"failure {i}"));
            h.Advance(TimeSpan.FromHours(1));
        }

        var history = await new AttemptHistory(h.Redis.Connection).ReadAsync(id);
        Assert.Equal(Enumerable.Range(6, RedisKeys.AttemptHistoryCap), history.Select(a => a.Attempt));
        Assert.Equal($"failure {Failures}", history[^1].Error);
    }

    [Fact]
    public async Task A_dead_letters_history_ends_with_its_last_attempt_and_is_deleted_when_it_is_purged()
    {
        var h = await StoreHarness.CreateAsync();
        var id = Assert.Single(await DeadLetterAsync(h, 1, TimeSpan.FromSeconds(1), "ledger offline"));
        var history = Assert.Single(await new AttemptHistory(h.Redis.Connection).ReadAsync(id));
        Assert.Equal((1, "ledger offline 0", "dead-lettered"), (history.Attempt, history.Error, history.Outcome));

        Assert.Equal(1, await h.Store.PurgeDeadLettersAsync(h.Queue, [id]));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Attempts(id)));
        Assert.DoesNotContain(await h.QueueKeysAsync(), key => key.EndsWith(id.LocalId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_retention_a_completed_task_and_its_history_are_deleted_at_once()
    {
        var h = await StoreHarness.CreateAsync(options => options.Retention = TimeSpan.Zero);
        var id = (await h.Store.EnqueueAsync(h.Task() with { MaxAttempts = 3 })).Id;
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, await ClaimOneAsync(h)));
        h.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, await ClaimOneAsync(h)));

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Task(id)));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Attempts(id)));
    }
}
