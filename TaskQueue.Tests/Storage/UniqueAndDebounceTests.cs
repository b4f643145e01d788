using System.Text;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>Unique keys (held while a task is not final) and debounce keys (merged while a task waits), in enqueue.lua.</summary>
public class UniqueAndDebounceTests : StoreTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    public enum FinalWay
    {
        Completed,
        DeadLettered,
        CancelledWaiting,
        CancelledRunning,
        Expired,
        CompletedWithoutRetention,
    }

    [Fact]
    public async Task A_second_submit_with_a_unique_key_returns_the_waiting_task_and_writes_nothing()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task(payload: "one") with { UniqueKey = "report-7" });
        var before = await FingerprintAsync(h);

        var second = await h.Store.EnqueueAsync(h.Task(payload: "two") with { UniqueKey = "report-7" });

        Assert.Equal(EnqueueOutcome.Created, first.Outcome);
        Assert.Equal(new EnqueueResult(first.Id, EnqueueOutcome.UniqueExisting), second);
        Assert.True(second.Duplicate);
        Assert.Equal(before, await FingerprintAsync(h));
        var snapshot = await SnapshotAsync(h, first.Id);
        Assert.Equal(("one", "report-7"), (Encoding.UTF8.GetString(snapshot.Payload.Span), snapshot.UniqueKey));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_unique_key_holds_while_the_task_runs_and_is_free_once_it_completed()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u" });
        var leased = await ClaimOneAsync(h);

        Assert.Equal(new EnqueueResult(first.Id, EnqueueOutcome.UniqueExisting), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u" }));
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, leased));
        var next = await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u" });

        Assert.Equal(EnqueueOutcome.Created, next.Outcome);
        Assert.NotEqual(first.Id, next.Id);
        Assert.Equal(next.Id.LocalId, (string?)await h.Db.StringGetAsync(RedisKeys.Unique(h.Queue, "u")));
        await AssertConsistentAsync(h);
    }

    [Theory]
    [InlineData(FinalWay.Completed)]
    [InlineData(FinalWay.DeadLettered)]
    [InlineData(FinalWay.CancelledWaiting)]
    [InlineData(FinalWay.CancelledRunning)]
    [InlineData(FinalWay.Expired)]
    [InlineData(FinalWay.CompletedWithoutRetention)]
    public async Task Every_final_state_frees_the_unique_key(FinalWay way)
    {
        var h = await NewStoreAsync(o => o.Retention = way == FinalWay.CompletedWithoutRetention ? TimeSpan.Zero : o.Retention);
        var first = await h.Store.EnqueueAsync(h.Task() with
        {
            UniqueKey = "u", MaxAttempts = 1, ExpiresAfter = way == FinalWay.Expired ? TimeSpan.FromMinutes(1) : null,
        });

        switch (way)
        {
            case FinalWay.Completed or FinalWay.CompletedWithoutRetention:
                Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, await ClaimOneAsync(h)));
                break;
            case FinalWay.DeadLettered:
                Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, await ClaimOneAsync(h), retryable: false));
                break;
            case FinalWay.CancelledWaiting:
                Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(first.Id)).Result);
                break;
            case FinalWay.CancelledRunning:
                var running = await ClaimOneAsync(h);
                Assert.Equal(TransitionResult.CancelRequested, (await h.Store.CancelAsync(first.Id)).Result);
                Assert.Equal(TransitionResult.Cancelled, await FailAsync(h, running, "cancelled"));
                break;
            case FinalWay.Expired:
                h.Advance(TimeSpan.FromMinutes(2));
                Assert.Equal(1, (await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease)).Expired);
                break;
        }

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Unique(h.Queue, "u")), "the unique key outlived its task");
        var next = await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u" });
        Assert.Equal(EnqueueOutcome.Created, next.Outcome);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_replayed_dead_letter_takes_its_unique_key_again_unless_another_task_holds_it()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "a", MaxAttempts = 1 });
        await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "b", MaxAttempts = 1 });
        var dead = new List<LeasedTask> { await ClaimOneAsync(h), await ClaimOneAsync(h) };
        foreach (var task in dead)
        {
            Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, task, retryable: false));
        }

        var holder = await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "b" });

        Assert.Equal(1, await h.Store.ReplayDeadLettersAsync(h.Queue, []));
        var (left, total) = await h.Store.ListDeadLettersAsync(h.Queue, 0, 10);
        Assert.Equal(1, total);
        Assert.Equal(dead[1].Id, Assert.Single(left).Id);
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, dead[0].Id)).State);
        Assert.Equal(new EnqueueResult(dead[0].Id, EnqueueOutcome.UniqueExisting), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "a" }));
        Assert.Equal(0, await h.Store.ReplayDeadLettersAsync(h.Queue, [dead[1].Id]));

        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(holder.Id)).Result);
        Assert.Equal(1, await h.Store.ReplayDeadLettersAsync(h.Queue, [dead[1].Id]));
        Assert.Equal(new EnqueueResult(dead[1].Id, EnqueueOutcome.UniqueExisting), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "b" }));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Replaying_every_dead_letter_passes_over_those_whose_unique_key_is_taken()
    {
        var h = await NewStoreAsync();
        await EnqueueManyAsync(h, 6, i => h.Task(payload: "d" + i) with { UniqueKey = i % 2 == 0 ? "even" + i : null, MaxAttempts = 1 });
        foreach (var task in await ClaimAllAsync(h))
        {
            await FailAsync(h, task, retryable: false);
        }

        await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "even0" });
        await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "even2" });

        Assert.Equal(4, await h.Store.ReplayDeadLettersAsync(h.Queue, []));
        Assert.Equal(2, (await h.Store.ListDeadLettersAsync(h.Queue, 0, 10)).Total);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_debounced_task_waits_its_window_and_a_submit_in_it_replaces_the_payload_and_pushes_the_start_back()
    {
        var h = await NewStoreAsync();
        var start = await NowMsAsync(h);
        var first = await h.Store.EnqueueAsync(h.Task(payload: "v1") with { DebounceKey = "d", DebounceWindow = Window });
        var firstDue = (await SnapshotAsync(h, first.Id)).DueAt!.Value.ToUnixTimeMilliseconds();
        h.Advance(TimeSpan.FromMinutes(3));

        var second = await h.Store.EnqueueAsync(h.Task(payload: "v2") with { DebounceKey = "d", DebounceWindow = Window });

        Assert.Equal(EnqueueOutcome.Created, first.Outcome);
        Assert.InRange(firstDue - start, Window.TotalMilliseconds, Window.TotalMilliseconds + 1000);
        Assert.Equal(new EnqueueResult(first.Id, EnqueueOutcome.Debounced), second);
        var snapshot = await SnapshotAsync(h, first.Id);
        Assert.Equal((TaskState.Scheduled, "v2", "d"), (snapshot.State, Encoding.UTF8.GetString(snapshot.Payload.Span), snapshot.DebounceKey));
        Assert.InRange(snapshot.DueAt!.Value.ToUnixTimeMilliseconds() - firstDue, TimeSpan.FromMinutes(3).TotalMilliseconds, TimeSpan.FromMinutes(3).TotalMilliseconds + 1000);
        Assert.Equal(snapshot.DueAt.Value.ToUnixTimeMilliseconds(), (long)(await h.Db.SortedSetScoreAsync(RedisKeys.Scheduled(h.Queue), first.Id.LocalId))!);
        var counts = await h.Store.GetCountsAsync(h.Queue);
        Assert.Equal((1, 1), (counts.Submitted, counts.Scheduled));

        h.Advance(TimeSpan.FromMinutes(4));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        h.Advance(TimeSpan.FromMinutes(2));
        var leased = await ClaimOneAsync(h);
        Assert.Equal((first.Id, "v2"), (leased.Id, Encoding.UTF8.GetString(leased.Payload.Span)));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Once_the_debounced_task_started_a_submit_creates_a_new_one_which_later_submits_debounce_into()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task(payload: "v1") with { DebounceKey = "d", DebounceWindow = Window });
        h.Advance(TimeSpan.FromMinutes(6));
        var running = await ClaimOneAsync(h);

        var second = await h.Store.EnqueueAsync(h.Task(payload: "v2") with { DebounceKey = "d", DebounceWindow = Window });
        var third = await h.Store.EnqueueAsync(h.Task(payload: "v3") with { DebounceKey = "d", DebounceWindow = Window });
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, running));

        Assert.Equal(first.Id, running.Id);
        Assert.Equal(EnqueueOutcome.Created, second.Outcome);
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal(new EnqueueResult(second.Id, EnqueueOutcome.Debounced), third);
        Assert.Equal("v3", Encoding.UTF8.GetString((await SnapshotAsync(h, second.Id)).Payload.Span));
        Assert.Equal(second.Id.LocalId, (string?)await h.Db.StringGetAsync(RedisKeys.Debounce(h.Queue, "d")));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_debounced_task_that_is_ready_but_not_started_goes_back_to_waiting()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task(payload: "v1") with { DebounceKey = "d", DebounceWindow = Window });
        h.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(1, (await h.Store.PromoteAsync(h.Queue)).Promoted);
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(h, first.Id)).State);

        var second = await h.Store.EnqueueAsync(h.Task(payload: "v2") with { DebounceKey = "d", DebounceWindow = Window });

        Assert.Equal(new EnqueueResult(first.Id, EnqueueOutcome.Debounced), second);
        var snapshot = await SnapshotAsync(h, first.Id);
        Assert.Equal((TaskState.Scheduled, "v2"), (snapshot.State, Encoding.UTF8.GetString(snapshot.Payload.Span)));
        Assert.Empty((await h.Store.ClaimAsync(h.Queue, "w1", 10, Lease)).Tasks);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_debounce_key_is_freed_when_its_task_is_cancelled()
    {
        var h = await NewStoreAsync();
        var first = await h.Store.EnqueueAsync(h.Task() with { DebounceKey = "d", DebounceWindow = Window });

        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(first.Id)).Result);

        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Debounce(h.Queue, "d")));
        Assert.Equal(EnqueueOutcome.Created, (await h.Store.EnqueueAsync(h.Task() with { DebounceKey = "d", DebounceWindow = Window })).Outcome);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task An_idempotency_key_is_checked_first_and_is_taken_only_by_a_submit_that_creates_a_task()
    {
        var h = await NewStoreAsync();
        var holder = await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u", IdempotencyKey = "i1" });

        // The idempotency key wins over the unique key: the same submit again is the same answer.
        Assert.Equal(new EnqueueResult(holder.Id, EnqueueOutcome.IdempotentDuplicate), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u", IdempotencyKey = "i1" }));
        // A submit answered by the unique key creates nothing and does not take its idempotency key.
        Assert.Equal(new EnqueueResult(holder.Id, EnqueueOutcome.UniqueExisting), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u", IdempotencyKey = "i2" }));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Idempotency(h.Queue, "i2")));
        var debounced = await h.Store.EnqueueAsync(h.Task() with { DebounceKey = "d", DebounceWindow = Window, IdempotencyKey = "i3" });
        Assert.Equal(new EnqueueResult(debounced.Id, EnqueueOutcome.Debounced), await h.Store.EnqueueAsync(h.Task() with { DebounceKey = "d", DebounceWindow = Window, IdempotencyKey = "i4" }));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Idempotency(h.Queue, "i4")));

        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, await ClaimOneAsync(h)));
        // Its key is free, but the first submit's idempotency key still answers for the retention.
        Assert.Equal(new EnqueueResult(holder.Id, EnqueueOutcome.IdempotentDuplicate), await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u", IdempotencyKey = "i1" }));
        Assert.Equal(EnqueueOutcome.Created, (await h.Store.EnqueueAsync(h.Task() with { UniqueKey = "u", IdempotencyKey = "i2" })).Outcome);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task Submits_with_one_key_in_one_batch_give_one_task()
    {
        var h = await NewStoreAsync();

        var unique = await EnqueueManyAsync(h, 5, i => h.Task(payload: "u" + i) with { UniqueKey = "u" });
        var debounced = await EnqueueManyAsync(h, 5, i => h.Task(payload: "d" + i) with { DebounceKey = "d", DebounceWindow = Window });

        Assert.Equal([EnqueueOutcome.Created, .. Enumerable.Repeat(EnqueueOutcome.UniqueExisting, 4)], unique.Select(r => r.Outcome));
        Assert.Single(unique.Select(r => r.Id).Distinct());
        Assert.Equal([EnqueueOutcome.Created, .. Enumerable.Repeat(EnqueueOutcome.Debounced, 4)], debounced.Select(r => r.Outcome));
        Assert.Equal("d4", Encoding.UTF8.GetString((await SnapshotAsync(h, Assert.Single(debounced.Select(r => r.Id).Distinct()))).Payload.Span));
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_task_without_the_keys_stores_no_field_or_key_for_them()
    {
        var h = await NewStoreAsync();

        var result = await h.Store.EnqueueAsync(h.Task());

        var fields = (await h.Db.HashKeysAsync(RedisKeys.Task(result.Id))).Select(f => (string)f!).ToList();
        Assert.DoesNotContain(TaskFields.UniqueKey, fields);
        Assert.DoesNotContain(TaskFields.DebounceKey, fields);
        Assert.DoesNotContain(await h.QueueKeysAsync(), key => key.Contains(":uniq:", StringComparison.Ordinal) || key.Contains(":debounce:", StringComparison.Ordinal));
    }

    private static readonly (string Field, NewTask Task)[] s_invalid =
    [
        ("unique_key", new NewTask("q", "echo", default) { UniqueKey = new string('u', 257) }),
        ("debounce_key", new NewTask("q", "echo", default) { DebounceKey = new string('d', 257), DebounceWindow = Window }),
        ("debounce_key", new NewTask("q", "echo", default) { UniqueKey = "u", DebounceKey = "d", DebounceWindow = Window }),
        ("debounce_window", new NewTask("q", "echo", default) { DebounceKey = "d" }),
        ("debounce_window", new NewTask("q", "echo", default) { DebounceWindow = Window }),
        ("debounce_window", new NewTask("q", "echo", default) { DebounceKey = "d", DebounceWindow = TimeSpan.Zero }),
        ("debounce_window", new NewTask("q", "echo", default) { DebounceKey = "d", DebounceWindow = TimeSpan.FromMilliseconds(-5) }),
        ("debounce_window", new NewTask("q", "echo", default) { DebounceKey = "d", DebounceWindow = TimeSpan.FromDays(1) + TimeSpan.FromMilliseconds(1) }),
    ];

    public static TheoryData<int> InvalidCases => new(Enumerable.Range(0, s_invalid.Length));

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void Bad_unique_or_debounce_settings_are_refused_naming_the_field(int index)
    {
        var (field, task) = s_invalid[index];

        var error = Assert.Throws<TaskValidationException>(() => TaskValidation.Validate(task, new TaskStoreOptions()));

        Assert.Equal(field, error.Field);
    }
}
