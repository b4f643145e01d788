using System.Text;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Listing;

/// <summary>ListTasks (Scripts/list.lua): every listable state, both orders, cursors, type and group filters, bad cursors.</summary>
public sealed class ListTasksTests
{
    [Fact]
    public async Task Ready_tasks_page_in_claim_order_oldest_first_and_in_exactly_the_reverse_newest_first()
    {
        var h = await StoreHarness.CreateAsync();
        var lister = Lister(h);
        int[] priorities = [0, 5, 9, 5, 0, 9, 1, 0, 5, 9, 0];
        await EnqueueManyAsync(h, priorities.Length, i => h.Task(payload: "p" + i) with { Priority = priorities[i] });
        var cancelled = (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { OldestFirst = true, Limit = 1 })).Tasks[0];
        Assert.Equal(TransitionResult.Cancelled, (await h.Store.CancelAsync(cancelled.Id)).Result);

        var oldest = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { OldestFirst = true, Limit = 3 });
        var newest = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { Limit = 4 });
        var claimed = await ClaimAllAsync(h);

        Assert.Equal(claimed.Select(t => t.Id), oldest.Select(t => t.Id));
        Assert.Equal(claimed.Select(t => t.Id).Reverse(), newest.Select(t => t.Id));
        Assert.DoesNotContain(oldest, t => t.Id == cancelled.Id);
        Assert.All(oldest, t => Assert.Equal((TaskState.Ready, 0, "echo"), (t.State, t.Payload.Length, t.Type)));
    }

    [Fact]
    public async Task A_listing_leaves_payloads_and_results_out_and_keeps_every_other_field()
    {
        var h = await StoreHarness.CreateAsync();
        var id = (await h.Store.EnqueueAsync(h.Task("resize", "big payload") with { Priority = 4, MaxAttempts = 3, UniqueKey = "u1" })).Id;
        Assert.Equal(TransitionResult.Ok, await CompleteAsync(h, await ClaimOneAsync(h), "a result"));

        var listed = Assert.Single((await Lister(h).ListAsync(new TaskListQuery(h.Queue, TaskState.Completed))).Tasks);
        var full = await SnapshotAsync(h, id);

        Assert.Equal(0, listed.Payload.Length + listed.Result.Length);
        Assert.Equal("a result", Encoding.UTF8.GetString(full.Result.Span));
        Assert.Equal(full with { Payload = default, Result = default }, listed with { Payload = default, Result = default });
        Assert.Equal("u1", listed.UniqueKey);
    }

    [Fact]
    public async Task Scheduled_tasks_with_the_same_due_time_page_without_loss_or_repeat()
    {
        var h = await StoreHarness.CreateAsync();
        // One batch, one delay: every task has the same due time (score), so only the cursor's member separates them.
        var ids = (await EnqueueManyAsync(h, 23, _ => h.Task() with { Delay = TimeSpan.FromMinutes(10) })).Select(r => r.Id).ToList();
        var later = (await h.Store.EnqueueAsync(h.Task() with { Delay = TimeSpan.FromMinutes(20) })).Id;
        var lister = Lister(h);

        var oldest = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Scheduled) { OldestFirst = true, Limit = 4 });
        var newest = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Scheduled) { Limit = 5 });

        Assert.Equal([.. ids.OrderBy(id => id.LocalId, StringComparer.Ordinal), later], oldest.Select(t => t.Id));
        Assert.Equal(oldest.Select(t => t.Id).Reverse(), newest.Select(t => t.Id));
    }

    [Fact]
    public async Task Leased_and_dead_lettered_tasks_are_listed_from_their_sets()
    {
        var h = await StoreHarness.CreateAsync();
        await EnqueueManyAsync(h, 4, _ => h.Task() with { MaxAttempts = 1 });
        var leased = await ClaimAllAsync(h);
        Assert.Equal(TransitionResult.DeadLettered, await FailAsync(h, leased[0], retryable: false));
        var lister = Lister(h);

        var running = (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Leased) { OldestFirst = true })).Tasks;
        var dead = (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.DeadLettered))).Tasks;

        Assert.Equal(Sorted(leased.Skip(1).Select(t => t.Id)), Sorted(running.Select(t => t.Id)));
        Assert.All(running, t => Assert.Equal(("w1", TaskState.Leased), (t.WorkerId, t.State)));
        Assert.Equal(leased[0].Id, Assert.Single(dead).Id);
        Assert.Equal(TaskState.DeadLettered, dead[0].State);
    }

    [Fact]
    public async Task Finished_tasks_are_listed_by_state_newest_first_until_their_retention_ends()
    {
        var h = await StoreHarness.CreateAsync(o => o.Retention = TimeSpan.FromHours(1));
        var lister = Lister(h);
        var completed = new List<TaskId>();
        for (var i = 0; i < 3; i++)
        {
            await h.Store.EnqueueAsync(h.Task());
            var task = await ClaimOneAsync(h);
            await CompleteAsync(h, task);
            completed.Add(task.Id);
            h.Advance(TimeSpan.FromMinutes(1));
        }

        var cancelled = (await h.Store.EnqueueAsync(h.Task())).Id;
        await h.Store.CancelAsync(cancelled);
        var expired = (await h.Store.EnqueueAsync(h.Task() with { ExpiresAfter = TimeSpan.FromMinutes(1) })).Id;
        h.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, (await h.Store.PromoteAsync(h.Queue)).Expired + (await h.Store.ClaimAsync(h.Queue, "w1", 1, Lease)).Expired);

        Assert.Equal(Enumerable.Reverse(completed), (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Completed))).Tasks.Select(t => t.Id));
        Assert.Equal(cancelled, Assert.Single((await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Cancelled))).Tasks).Id);
        Assert.Equal(expired, Assert.Single((await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Expired))).Tasks).Id);

        // Past the retention of the first three, the next completion trims them from the index.
        h.Advance(TimeSpan.FromMinutes(58));
        await h.Store.EnqueueAsync(h.Task());
        var last = await ClaimOneAsync(h);
        await CompleteAsync(h, last);
        Assert.Equal([last.Id], (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Completed))).Tasks.Select(t => t.Id));
        Assert.Equal(1, await h.Db.SortedSetLengthAsync(RedisKeys.Finished(h.Queue, "completed")));
    }

    [Fact]
    public async Task A_type_filter_may_give_short_pages_and_the_cursor_still_reaches_every_match()
    {
        var h = await StoreHarness.CreateAsync();
        var tasks = await EnqueueManyAsync(h, 30, i => h.Task(i % 3 == 0 ? "resize" : "echo"));
        var lister = Lister(h);
        var pages = new List<int>();
        var found = new List<TaskId>();
        string? cursor = null;
        do
        {
            var page = await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Type = "resize", Limit = 4, OldestFirst = true, Cursor = cursor });
            pages.Add(page.Tasks.Count);
            found.AddRange(page.Tasks.Select(t => t.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(tasks.Where((_, i) => i % 3 == 0).Select(r => r.Id), found);
        Assert.Contains(pages, n => n < 4);
        Assert.All(pages, n => Assert.InRange(n, 0, 4));
    }

    [Fact]
    public async Task A_group_filter_lists_only_that_groups_tasks_ready_or_scheduled_in_short_pages_whose_cursor_reaches_every_match()
    {
        var h = await StoreHarness.CreateAsync();
        string? GroupOf(int i) => (i % 4) switch { 0 => "tenant-a", 1 => "tenant-b", _ => null };
        var ready = await EnqueueManyAsync(h, 40, i => h.Task(i % 2 == 0 ? "echo" : "resize") with { Group = GroupOf(i) });
        var scheduled = await EnqueueManyAsync(h, 12, i => h.Task() with { Group = GroupOf(i), Delay = TimeSpan.FromMinutes(10) });
        var lister = Lister(h);

        foreach (var oldestFirst in new[] { true, false })
        {
            var found = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { Group = "tenant-a", Limit = 3, OldestFirst = oldestFirst });
            Assert.Equal(ready.Where((_, i) => GroupOf(i) == "tenant-a").Select(r => r.Id.ToString()).Order(StringComparer.Ordinal), found.Select(t => t.Id.ToString()).Order(StringComparer.Ordinal));
            Assert.All(found, t => Assert.Equal("tenant-a", t.Group));
        }

        // With a type as well: both must match (tenant-a's tasks are all echo: even i).
        Assert.Empty(await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { Group = "tenant-a", Type = "resize", Limit = 5 }));
        var scheduledB = await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Scheduled) { Group = "tenant-b", Limit = 2 });
        Assert.Equal(scheduled.Where((_, i) => GroupOf(i) == "tenant-b").Select(r => r.Id.ToString()).Order(StringComparer.Ordinal), scheduledB.Select(t => t.Id.ToString()).Order(StringComparer.Ordinal));
        Assert.Empty(await AllPagesAsync(lister, new TaskListQuery(h.Queue, TaskState.Ready) { Group = "no-such-group", Limit = 10 }));
        Assert.Equal("group", (await Assert.ThrowsAsync<TaskValidationException>(() =>
            lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Group = "bad\u0001group" }))).Field);
    }

    [Fact]
    public async Task An_empty_state_lists_nothing_and_no_cursor()
    {
        var h = await StoreHarness.CreateAsync();

        foreach (var state in Enum.GetValues<TaskState>())
        {
            var page = await Lister(h).ListAsync(new TaskListQuery(h.Queue, state));
            Assert.Empty(page.Tasks);
            Assert.Null(page.NextCursor);
        }
    }

    [Fact]
    public async Task A_garbage_or_foreign_cursor_and_a_limit_out_of_range_are_refused()
    {
        var h = await StoreHarness.CreateAsync();
        await EnqueueManyAsync(h, 3);
        var lister = Lister(h);
        var readyCursor = (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Limit = 1 })).NextCursor;
        Assert.NotNull(readyCursor);

        string[] garbage =
        [
            "not a cursor", "!!!!", Convert.ToBase64String(Encoding.UTF8.GetBytes("v1\nready\ndesc\n0\n1-x")),
            Base64Url("v1\nready\ndesc\n0"), Base64Url("v2\nready\ndesc\n0\n1-0"), Base64Url("v1\nscheduled\ndesc\nNaN\n" + new string('a', 32)),
            Base64Url("v1\nscheduled\ndesc\n12\nnot-an-id"), new string('A', 5000),
        ];
        foreach (var cursor in garbage)
        {
            var error = await Assert.ThrowsAsync<TaskValidationException>(() => lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Cursor = cursor }));
            Assert.Equal("cursor", error.Field);
        }

        Assert.Equal("cursor", (await Assert.ThrowsAsync<TaskValidationException>(() =>
            lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Scheduled) { Cursor = readyCursor }))).Field);
        Assert.Equal("cursor", (await Assert.ThrowsAsync<TaskValidationException>(() =>
            lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Cursor = readyCursor, OldestFirst = true }))).Field);
        Assert.Equal("limit", (await Assert.ThrowsAsync<TaskValidationException>(() =>
            lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Limit = 1001 }))).Field);
        Assert.Equal("queue", (await Assert.ThrowsAsync<TaskValidationException>(() =>
            lister.ListAsync(new TaskListQuery("bad:queue", TaskState.Ready)))).Field);
        Assert.Equal(2, (await lister.ListAsync(new TaskListQuery(h.Queue, TaskState.Ready) { Cursor = readyCursor })).Tasks.Count);
    }

    private static TaskLister Lister(StoreHarness h) => new(h.Redis.Connection);

    private static string Base64Url(string text) => System.Buffers.Text.Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    internal static async Task<List<TaskSnapshot>> AllPagesAsync(TaskLister lister, TaskListQuery query)
    {
        var all = new List<TaskSnapshot>();
        for (var pages = 0; pages < 1000; pages++)
        {
            var page = await lister.ListAsync(query);
            Assert.InRange(page.Tasks.Count, 0, query.Limit);
            all.AddRange(page.Tasks);
            if (page.NextCursor is null)
            {
                return all;
            }

            query = query with { Cursor = page.NextCursor };
        }

        throw new InvalidOperationException("The listing did not end.");
    }
}
