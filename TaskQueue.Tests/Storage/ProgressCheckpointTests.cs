using System.Text;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>Progress and checkpoints are stored only while the lease token matches; the next attempt receives the checkpoint.</summary>
public class ProgressCheckpointTests : StoreTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    // ---- progress ----

    [Fact]
    public async Task Progress_from_the_lease_holder_is_stored_and_read_back_with_the_lease_deadline()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);

        var results = await h.Store.ReportProgressAsync(h.Queue, [new TaskProgressReport(task.Id, task.LeaseToken, 42, "42 of 100")]);
        var snapshot = await SnapshotAsync(h, task.Id);

        Assert.Equal([TransitionResult.Ok], results);
        Assert.Equal(42, snapshot.ProgressPercent);
        Assert.Equal("42 of 100", snapshot.ProgressMessage);
        Assert.NotNull(snapshot.ProgressAt);
        Assert.Equal(task.LeaseDeadline, snapshot.LeaseDeadline);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_task_that_never_reported_progress_has_none_and_no_lease_deadline_once_finished()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));

        var snapshot = await SnapshotAsync(h, task.Id);

        Assert.Null(snapshot.ProgressPercent);
        Assert.Null(snapshot.ProgressAt);
        Assert.Null(snapshot.LeaseDeadline);
        Assert.True(snapshot.Checkpoint.IsEmpty);
    }

    [Fact]
    public async Task Progress_with_a_stale_or_unknown_token_changes_nothing()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var first = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h);
        var before = await FingerprintAsync(h);

        var results = await h.Store.ReportProgressAsync(
            h.Queue,
            [
                new TaskProgressReport(first.Id, first.LeaseToken, 90, "zombie"),
                new TaskProgressReport(second.Id, "forged", 91, "forged"),
                new TaskProgressReport(new TaskId(h.Queue, Guid.NewGuid().ToString("N")), "none", 92, "missing"),
            ]);

        Assert.Equal([TransitionResult.StaleLease, TransitionResult.StaleLease, TransitionResult.NotFound], results);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Null((await SnapshotAsync(h, second.Id)).ProgressPercent);
    }

    // ---- checkpoints ----

    [Fact]
    public async Task A_checkpoint_of_the_lease_holder_is_stored_and_the_next_attempt_receives_it_after_a_retry()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var first = await ClaimOneAsync(h);
        Assert.True(first.Checkpoint.IsEmpty);

        var stored = await h.Store.CheckpointAsync(new TaskCheckpointReport(first.Id, first.LeaseToken, Bytes("item=50"), 50, "50/100"));
        Assert.Equal(TransitionResult.Ok, stored);
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, first));
        h.Advance(TimeSpan.FromMinutes(5));
        var second = await ClaimOneAsync(h);
        var snapshot = await SnapshotAsync(h, first.Id);

        Assert.Equal("item=50", Text(second.Checkpoint));
        Assert.Equal("item=50", Text(snapshot.Checkpoint));
        Assert.Equal(50, snapshot.ProgressPercent);
        Assert.Equal("50/100", snapshot.ProgressMessage);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_checkpoint_survives_a_hand_back_and_an_expired_lease()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var first = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await h.Store.CheckpointAsync(new TaskCheckpointReport(first.Id, first.LeaseToken, Bytes("a"), -1, "")));
        Assert.Equal([TransitionResult.Ok], await h.Store.ReleaseAsync(h.Queue, [new LeaseRef(first.Id, first.LeaseToken)]));
        var second = await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        Assert.Equal("a", Text(second.Checkpoint));
        Assert.Equal(TransitionResult.Ok, await h.Store.CheckpointAsync(new TaskCheckpointReport(second.Id, second.LeaseToken, Bytes("b"), -1, "")));

        h.Advance(TimeSpan.FromSeconds(10));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
        h.Advance(TimeSpan.FromMinutes(5));
        var third = await ClaimOneAsync(h);

        Assert.Equal("b", Text(third.Checkpoint));
        // Without a percent the progress is left alone (none was ever reported).
        Assert.Null((await SnapshotAsync(h, third.Id)).ProgressPercent);
        await AssertConsistentAsync(h);
    }

    [Fact]
    public async Task A_zombies_checkpoint_after_its_lease_moved_on_is_refused_and_does_not_overwrite()
    {
        var h = await NewStoreAsync();
        await h.Store.EnqueueAsync(h.Task());
        var zombie = await ClaimOneAsync(h, TimeSpan.FromSeconds(5));
        Assert.Equal(TransitionResult.Ok, await h.Store.CheckpointAsync(new TaskCheckpointReport(zombie.Id, zombie.LeaseToken, Bytes("50"), 50, "")));
        h.Advance(TimeSpan.FromSeconds(10));
        Assert.Single(await h.Store.ReapAsync(h.Queue, 10));
        h.Advance(TimeSpan.FromMinutes(5));
        var current = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await h.Store.CheckpointAsync(new TaskCheckpointReport(current.Id, current.LeaseToken, Bytes("60"), 60, "")));
        var before = await FingerprintAsync(h);

        var late = await h.Store.CheckpointAsync(new TaskCheckpointReport(zombie.Id, zombie.LeaseToken, Bytes("0"), 0, "zombie"));

        Assert.Equal(TransitionResult.StaleLease, late);
        Assert.Equal(before, await FingerprintAsync(h));
        Assert.Equal("60", Text((await SnapshotAsync(h, current.Id)).Checkpoint));
        Assert.Equal(60, (await SnapshotAsync(h, current.Id)).ProgressPercent);
    }

    [Fact]
    public async Task A_checkpoint_over_the_size_cap_fails_with_a_clear_error_and_stores_nothing()
    {
        var h = await NewStoreAsync(o => o.MaxCheckpointBytes = 1024);
        await h.Store.EnqueueAsync(h.Task());
        var task = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await h.Store.CheckpointAsync(new TaskCheckpointReport(task.Id, task.LeaseToken, new byte[1024], -1, "")));
        var before = await FingerprintAsync(h);

        var refused = await Assert.ThrowsAsync<ArgumentException>(
            () => h.Store.CheckpointAsync(new TaskCheckpointReport(task.Id, task.LeaseToken, new byte[1025], 10, "")));

        Assert.Contains("1025 bytes", refused.Message, StringComparison.Ordinal);
        Assert.Contains("TaskQueue:Store:MaxCheckpointBytes", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, await FingerprintAsync(h));
    }

    [Fact]
    public void The_checkpoint_cap_defaults_to_64_KiB() => Assert.Equal(64 * 1024, new TaskStoreOptions().MaxCheckpointBytes);

    // ---- watch announcements ----

    [Fact]
    public async Task A_watched_task_announces_every_change_until_final_and_then_leaves_the_watchers()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;
        await using var changes = await ChangesAsync(h);
        await h.Store.RegisterWatchAsync(id);

        var task = await ClaimOneAsync(h);
        await h.Store.ReportProgressAsync(h.Queue, [new TaskProgressReport(id, task.LeaseToken, 10, "")]);
        await h.Store.CheckpointAsync(new TaskCheckpointReport(id, task.LeaseToken, Bytes("c"), 20, ""));
        await h.Store.CheckpointAsync(new TaskCheckpointReport(id, task.LeaseToken, Bytes("d"), -1, ""));
        Assert.Equal(TransitionResult.Retrying, await FailAsync(h, task));
        h.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, (await h.Store.PromoteAsync(h.Queue)).Promoted);
        var retry = await ClaimOneAsync(h);
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, retry));

        // claim, progress, checkpoint with progress, fail (scheduled), promote (ready), claim, complete: 7, and the
        // checkpoint without progress is no news.
        // Published by the node the queue's scripts ran on (on a cluster, another node's own publish may overtake
        // the ones the cluster bus forwards), so it arrives after them.
        await h.Redis.ServerOf(RedisKeys.QueuePrefix(h.Queue)).ExecuteAsync("PUBLISH", RedisKeys.ChangedChannel, changes.Marker);
        await changes.WaitForAsync(8, s_wait);
        Assert.Equal([.. Enumerable.Repeat(RedisKeys.QueuePrefix(h.Queue) + id.LocalId, 7), changes.Marker], changes.Messages);
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Watchers(h.Queue)));
    }

    [Fact]
    public async Task A_task_nobody_watches_announces_nothing_and_a_watch_counts_its_watchers()
    {
        var h = await NewStoreAsync();
        var watched = (await h.Store.EnqueueAsync(h.Task())).Id;
        var unwatched = (await h.Store.EnqueueAsync(h.Task())).Id;
        await using var changes = await ChangesAsync(h);
        await h.Store.RegisterWatchAsync(watched);
        await h.Store.RegisterWatchAsync(watched);
        await h.Store.UnregisterWatchAsync(watched);

        var tasks = await ClaimAllAsync(h);
        Assert.Equal(2, tasks.Count);
        await changes.WaitForAsync(1, s_wait);
        foreach (var task in tasks)
        {
            Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, task));
        }

        await changes.WaitForAsync(2, s_wait);
        // A marker published after everything above: once it arrives, nothing else is on its way.
        // Published by the node the queue's scripts ran on (on a cluster, another node's own publish may overtake
        // the ones the cluster bus forwards), so it arrives after them.
        await h.Redis.ServerOf(RedisKeys.QueuePrefix(h.Queue)).ExecuteAsync("PUBLISH", RedisKeys.ChangedChannel, changes.Marker);
        await changes.WaitForAsync(3, s_wait);
        Assert.Equal([RedisKeys.QueuePrefix(h.Queue) + watched.LocalId, RedisKeys.QueuePrefix(h.Queue) + watched.LocalId, changes.Marker], changes.Messages);
        Assert.DoesNotContain(changes.Messages, m => m.EndsWith(unwatched.LocalId, StringComparison.Ordinal));
        Assert.False(await h.Db.KeyExistsAsync(RedisKeys.Watchers(h.Queue)));
    }

    [Fact]
    public async Task The_last_watch_to_end_removes_its_task_from_the_watchers()
    {
        var h = await NewStoreAsync();
        var id = (await h.Store.EnqueueAsync(h.Task())).Id;
        await h.Store.RegisterWatchAsync(id);
        await h.Store.RegisterWatchAsync(id);

        await h.Store.UnregisterWatchAsync(id);
        await Eventually.TrueAsync(async () => await h.Db.HashGetAsync(RedisKeys.Watchers(h.Queue), id.LocalId) == 1, s_wait, () => "one watch left");
        await h.Store.UnregisterWatchAsync(id);
        await h.Store.UnregisterWatchAsync(id);

        await Eventually.TrueAsync(async () => !await h.Db.KeyExistsAsync(RedisKeys.Watchers(h.Queue)), s_wait, () => "the watchers hash is gone");
    }

    private static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private static async Task<Changes> ChangesAsync(StoreHarness h)
    {
        var changes = new Changes(h.Redis.Connection.GetSubscriber(), h.Queue);
        await changes.SubscribeAsync();
        return changes;
    }

    /// <summary>The messages of <see cref="RedisKeys.ChangedChannel"/> about one queue (or its marker), in order.</summary>
    private sealed class Changes(ISubscriber subscriber, string queue) : IAsyncDisposable
    {
        private readonly List<string> _messages = [];
        private ChannelMessageQueue? _queue;

        /// <summary>This test's own marker: another test's, arriving late, is not mistaken for it.</summary>
        public string Marker { get; } = "marker:" + queue;

        public List<string> Messages
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public async Task SubscribeAsync()
        {
            _queue = await subscriber.SubscribeAsync(RedisChannel.Literal(RedisKeys.ChangedChannel));
            _queue.OnMessage(message =>
            {
                var text = (string)message.Message!;
                if (text == Marker || text.StartsWith(RedisKeys.QueuePrefix(queue), StringComparison.Ordinal))
                {
                    lock (_messages)
                    {
                        _messages.Add(text);
                    }
                }
            });
        }

        public Task WaitForAsync(int count, TimeSpan timeout) =>
            Eventually.TrueAsync(() => Task.FromResult(Messages.Count >= count), timeout, () => $"{Messages.Count} of {count} announcements: {string.Join(", ", Messages)}");

        public async ValueTask DisposeAsync()
        {
            if (_queue is not null)
            {
                await _queue.UnsubscribeAsync();
            }
        }
    }
}
