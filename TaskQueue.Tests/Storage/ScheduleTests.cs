using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Infrastructure;
using static TaskQueue.Tests.Storage.StoreChecks;

namespace TaskQueue.Tests.Storage;

/// <summary>
/// Schedules against real Redis: the scripts (schedule_*.lua) through the book and the firer the broker runs, with the
/// store's clock shifted to reach slots (Redis's own clock, as the scripts read it, plus the shift).
/// </summary>
public class ScheduleTests : StoreTests
{
    private const string Daily = "0 0 * * *";
    private const string Minutely = "* * * * *";

    private Task<Schedules> NewSchedulesAsync(Action<ScheduleOptions>? configure = null) => Schedules.CreateAsync(configure, OnCluster);

    [Fact]
    public async Task A_due_slot_fires_exactly_once_however_many_brokers_visit_at_once()
    {
        var s = await NewSchedulesAsync();
        var stored = (await s.UpsertAsync(s.Define(Daily))).Schedule;
        var slot = stored.NextRun!.Value;
        s.AdvanceTo(slot + TimeSpan.FromMilliseconds(100));

        var created = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => s.NewFirer().VisitAsync(s.Queue, default)));

        Assert.Equal(1, created.Sum(v => v.Created));
        var task = await SnapshotAsync(s.H, SlotTaskId.For(s.Queue, "nightly", slot.ToUnixTimeMilliseconds()));
        Assert.Equal(TaskState.Ready, task.State);
        Assert.Equal("report", task.Type);
        var after = await s.GetAsync();
        Assert.Equal(slot, after.LastRun);
        Assert.Equal(slot.AddDays(1), after.NextRun);
        Assert.Equal(1, after.Fired);
        Assert.Equal([s.Queue], s.Ready.Queues.Distinct());
        Assert.Equal(0, await s.VisitAsync());
    }

    [Fact]
    public async Task A_visit_planned_before_an_upsert_changes_nothing()
    {
        var s = await NewSchedulesAsync();
        var stored = (await s.UpsertAsync(s.Define(Daily))).Schedule;
        s.AdvanceTo(stored.NextRun!.Value + TimeSpan.FromMilliseconds(100));
        var read = await s.Store.ReadDueAsync(s.Queue, 10);
        var due = Assert.Single(read.Schedules);

        await s.UpsertAsync(s.Define(Daily) with { Template = new ScheduleTemplate("report", "v2"u8.ToArray()) });
        var plan = SlotPlanner.Plan(CronSlots.Parse(Daily, ""), due.NextMs, read.NowMs, CatchUpPolicy.One, 10, TimeSpan.FromMinutes(1));
        var stale = await s.Store.FireAsync(s.Queue, due, plan, TimeSpan.FromSeconds(1));

        Assert.Equal(ScheduleCodes.Stale, stale.Code);
        Assert.Empty(stale.Created);
        // The slot is still due under the new version, and fires once, with the new payload.
        Assert.Equal(1, await s.VisitAsync());
        var task = await SnapshotAsync(s.H, SlotTaskId.For(s.Queue, "nightly", due.NextMs));
        Assert.Equal("v2", System.Text.Encoding.UTF8.GetString(task.Payload.Span));
    }

    [Fact]
    public async Task The_same_definition_again_changes_nothing_and_a_changed_one_keeps_the_next_slot_unless_its_cron_moves_it()
    {
        var s = await NewSchedulesAsync();
        var first = await s.UpsertAsync(s.Define(Daily));
        Assert.Equal(UpsertOutcome.Created, first.Outcome);

        var again = await s.UpsertAsync(s.Define(Daily));
        Assert.Equal(UpsertOutcome.Unchanged, again.Outcome);
        Assert.Equal(first.Schedule.Version, again.Schedule.Version);

        var payload = await s.UpsertAsync(s.Define(Daily) with { Overlap = OverlapPolicy.Skip });
        Assert.Equal(UpsertOutcome.Updated, payload.Outcome);
        Assert.Equal(first.Schedule.NextRun, payload.Schedule.NextRun);
        Assert.True(payload.Schedule.Version > first.Schedule.Version);

        var hourly = await s.UpsertAsync(s.Define("0 * * * *"));
        Assert.Equal(CronSlots.Parse("0 * * * *", "").NextAfter(await s.NowMsAsync()), hourly.Schedule.NextRun!.Value.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task An_upsert_after_a_slot_fired_never_fires_that_slot_again()
    {
        var s = await NewSchedulesAsync();
        var slot = (await s.UpsertAsync(s.Define(Daily))).Schedule.NextRun!.Value;
        s.AdvanceTo(slot + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());

        // Back in time to just before the slot (as a broker with its clock behind would see it): an upsert whose cron
        // names the same slot still starts after the last slot handled.
        s.AdvanceTo(slot - TimeSpan.FromSeconds(1));
        var changed = await s.UpsertAsync(s.Define(Daily) with { Template = new ScheduleTemplate("report", "v3"u8.ToArray()) });
        Assert.Equal(slot.AddDays(1), changed.Schedule.NextRun);
        s.AdvanceTo(slot + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await s.VisitAsync());
        Assert.Equal(1, (await s.GetAsync()).Fired);
    }

    [Fact]
    public async Task An_upsert_while_a_slot_is_due_and_not_fired_yet_keeps_that_slot()
    {
        var s = await NewSchedulesAsync();
        var slot = (await s.UpsertAsync(s.Define(Daily))).Schedule.NextRun!.Value;
        s.AdvanceTo(slot + TimeSpan.FromSeconds(2));

        var changed = await s.UpsertAsync(s.Define(Daily) with { Overlap = OverlapPolicy.Skip });

        Assert.Equal(slot, changed.Schedule.NextRun);
        Assert.Equal(1, await s.VisitAsync());
    }

    [Fact]
    public async Task Overlap_skip_skips_slots_while_the_last_run_is_not_final()
    {
        var s = await NewSchedulesAsync();
        var next = (await s.UpsertAsync(s.Define(Minutely) with { Overlap = OverlapPolicy.Skip })).Schedule.NextRun!.Value;
        s.AdvanceTo(next + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());
        var running = await ClaimOneAsync(s.H, TimeSpan.FromHours(1)); // outlasts the minutes the clock moves

        s.AdvanceTo(next + TimeSpan.FromMinutes(1) + TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, await s.VisitAsync());
        Assert.Equal(1, (await s.GetAsync()).Skipped);

        await s.H.Store.CompleteAsync(s.Queue, [new TaskCompletion(running.Id, running.LeaseToken, ReadOnlyMemory<byte>.Empty)]);
        Assert.Equal(TaskState.Completed, (await SnapshotAsync(s.H, running.Id)).State);
        s.AdvanceTo(next + TimeSpan.FromMinutes(2) + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());
        await SnapshotAsync(s.H, SlotTaskId.For(s.Queue, "nightly", (next + TimeSpan.FromMinutes(2)).ToUnixTimeMilliseconds()));
    }

    [Fact]
    public async Task Overlap_queue_one_keeps_one_slot_back_behind_a_running_run_and_starts_it_when_that_run_ends()
    {
        var s = await NewSchedulesAsync();
        var next = (await s.UpsertAsync(s.Define(Minutely) with { Overlap = OverlapPolicy.QueueOne })).Schedule.NextRun!.Value;
        s.AdvanceTo(next + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());
        var running = await ClaimOneAsync(s.H, TimeSpan.FromHours(1)); // outlasts the minutes the clock moves

        s.AdvanceTo(next + TimeSpan.FromMinutes(1) + TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, await s.VisitAsync());
        var buffered = await s.GetAsync();
        Assert.Equal(next + TimeSpan.FromMinutes(1), buffered.BufferedRun);
        s.AdvanceTo(next + TimeSpan.FromMinutes(2) + TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, await s.VisitAsync());
        Assert.Equal(1, (await s.GetAsync()).Skipped);

        await s.H.Store.CompleteAsync(s.Queue, [new TaskCompletion(running.Id, running.LeaseToken, ReadOnlyMemory<byte>.Empty)]);
        // The recheck comes round (a buffered schedule is visited every BufferRecheck): the kept slot's task is created.
        s.AdvanceTo(next + TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(2));
        Assert.Equal(1, await s.VisitAsync());
        var kept = await SnapshotAsync(s.H, SlotTaskId.For(s.Queue, "nightly", (next + TimeSpan.FromMinutes(1)).ToUnixTimeMilliseconds()));
        Assert.Equal(TaskState.Ready, kept.State);
        Assert.Null((await s.GetAsync()).BufferedRun);
    }

    [Theory]
    [InlineData(CatchUpPolicy.Skip, 3, 1)]
    [InlineData(CatchUpPolicy.One, 3, 2)]
    [InlineData(CatchUpPolicy.All, 3, 4)]
    [InlineData(CatchUpPolicy.All, 100, 10)]
    public async Task After_an_outage_the_catch_up_policy_decides_which_missed_slots_run(CatchUpPolicy policy, int max, int expected)
    {
        var s = await NewSchedulesAsync();
        var next = (await s.UpsertAsync(s.Define(Minutely) with { CatchUp = policy, CatchUpMax = max })).Schedule.NextRun!.Value;
        // Ten slots fall due while no broker runs: the last is on time (within the 1 min misfire threshold), nine were missed.
        s.AdvanceTo(next + TimeSpan.FromMinutes(9) + TimeSpan.FromSeconds(30));

        Assert.Equal(expected, await s.VisitAsync());

        var after = await s.GetAsync();
        Assert.Equal(10 - expected, after.Missed);
        var fired = Enumerable.Range(10 - expected, expected).Select(i => SlotTaskId.For(s.Queue, "nightly", (next + TimeSpan.FromMinutes(i)).ToUnixTimeMilliseconds()));
        Assert.All(fired, id => Assert.True(s.H.Db.KeyExists(RedisKeys.Task(id)), $"slot task {id} missing"));
        Assert.Equal(next + TimeSpan.FromMinutes(10), after.NextRun);
        Assert.Equal(0, await s.VisitAsync());
    }

    [Fact]
    public async Task A_paused_schedule_fires_nothing_and_resumes_at_its_next_slot_after_now()
    {
        var s = await NewSchedulesAsync();
        var next = (await s.UpsertAsync(s.Define(Minutely))).Schedule.NextRun!.Value;
        var paused = await s.Book.PauseAsync(s.Queue, "nightly", default);
        Assert.True(paused!.Paused);
        Assert.Null(paused.NextRun);

        s.AdvanceTo(next + TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await s.VisitAsync());
        var resumed = await s.Book.ResumeAsync(s.Queue, "nightly", default);

        Assert.False(resumed!.Paused);
        Assert.Equal(next + TimeSpan.FromMinutes(4), resumed.NextRun);
        Assert.Equal(0, await s.VisitAsync());
        Assert.True(resumed.Version > paused.Version);
    }

    [Fact]
    public async Task Trigger_creates_a_task_of_its_own_now_and_it_becomes_the_last_run()
    {
        var s = await NewSchedulesAsync();
        await s.UpsertAsync(s.Define(Daily));

        var id = await s.Book.TriggerAsync(s.Queue, "nightly", default);

        var task = await SnapshotAsync(s.H, id!.Value);
        Assert.Equal(TaskState.Ready, task.State);
        var after = await s.GetAsync();
        Assert.Equal(id, after.LastTaskId);
        Assert.Equal(TaskState.Ready, after.LastTaskState);
        Assert.Null(after.LastRun);
        Assert.Null(await s.Book.TriggerAsync(s.Queue, "absent", default));
    }

    [Fact]
    public async Task Delete_removes_the_schedule_and_its_index_entry_and_keeps_its_tasks_and_a_recreated_one_never_repeats_a_slot_task()
    {
        var s = await NewSchedulesAsync();
        var slot = (await s.UpsertAsync(s.Define(Daily))).Schedule.NextRun!.Value;
        s.AdvanceTo(slot + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());
        var id = SlotTaskId.For(s.Queue, "nightly", slot.ToUnixTimeMilliseconds());

        Assert.True(await s.Book.DeleteAsync(s.Queue, "nightly", default));
        Assert.False(await s.Book.DeleteAsync(s.Queue, "nightly", default));
        Assert.Null(await s.Book.GetAsync(s.Queue, "nightly", default));
        Assert.Null(await s.H.Db.SortedSetScoreAsync(s.H.Keys.ScheduleIndex(s.Queue), s.Queue));
        Assert.Equal(TaskState.Ready, (await SnapshotAsync(s.H, id)).State);

        // Created again and handed a plan that names the fired slot (a broker's plan read before the delete): no second task.
        await s.UpsertAsync(s.Define(Daily));
        var due = new DueSchedule("nightly", (await s.GetAsync()).Version, (await s.GetAsync()).NextRun!.Value.ToUnixTimeMilliseconds(), Daily, "", CatchUpPolicy.One, 10);
        var fire = await s.Store.FireAsync(s.Queue, due, new SlotPlan([slot.ToUnixTimeMilliseconds()], 0, due.NextMs), TimeSpan.FromSeconds(1));
        Assert.Equal(ScheduleCodes.Ok, fire.Code);
        Assert.Empty(fire.Created);
    }

    [Fact]
    public async Task A_slot_in_a_queue_forgotten_while_empty_registers_the_queue_again_and_fires()
    {
        var s = await NewSchedulesAsync();
        var slot = (await s.UpsertAsync(s.Define(Daily))).Schedule.NextRun!.Value;
        Assert.False(await s.H.Db.SetContainsAsync(s.H.Keys.Registry(s.Queue), s.Queue));
        s.AdvanceTo(slot + TimeSpan.FromMilliseconds(100));

        Assert.Equal(1, await s.VisitAsync());
        Assert.True(await s.H.Db.SetContainsAsync(s.H.Keys.Registry(s.Queue), s.Queue));
    }

    [Fact]
    public async Task The_queue_index_holds_the_earliest_visit_of_its_schedules_and_a_paused_queue_is_never_due()
    {
        var s = await NewSchedulesAsync();
        var daily = (await s.UpsertAsync(s.Define(Daily))).Schedule.NextRun!.Value;
        Assert.Equal(daily.ToUnixTimeMilliseconds(), await s.H.Db.SortedSetScoreAsync(s.H.Keys.ScheduleIndex(s.Queue), s.Queue));
        var minutely = (await s.UpsertAsync(s.Define(Minutely, "often"))).Schedule.NextRun!.Value;
        Assert.Equal(minutely.ToUnixTimeMilliseconds(), await s.H.Db.SortedSetScoreAsync(s.H.Keys.ScheduleIndex(s.Queue), s.Queue));

        await s.Book.PauseAsync(s.Queue, "often", default);
        await s.Book.PauseAsync(s.Queue, "nightly", default);

        Assert.Equal(double.PositiveInfinity, await s.H.Db.SortedSetScoreAsync(s.H.Keys.ScheduleIndex(s.Queue), s.Queue));
        Assert.Contains(s.Queue, await s.Store.ListQueuesAsync());
        Assert.Equal(["nightly", "often"], (await s.Store.ReadAllAsync(s.Queue)).Schedules.Select(x => x.Definition.Name));
    }

    [Fact]
    public async Task The_due_script_reads_a_queue_whose_schedules_are_all_paused_as_never_due()
    {
        var s = await NewSchedulesAsync();
        var index = "test:" + s.Queue + ":due";
        await s.H.Db.SortedSetAddAsync(index, s.Queue, double.PositiveInfinity);

        var reply = (RedisResult[])(await s.H.Db.ScriptEvaluateAsync(ScriptLibrary.Due, [index], [0, 10]))!;

        Assert.Equal([-1L], reply.Select(r => (long)r));
        await s.H.Db.KeyDeleteAsync(index);
    }

    [Fact]
    public async Task A_queue_holds_at_most_its_limit_of_schedules()
    {
        var s = await NewSchedulesAsync(o => o.MaxSchedulesPerQueue = 2);
        await s.UpsertAsync(s.Define(Daily, "a"));
        await s.UpsertAsync(s.Define(Daily, "b"));

        await Assert.ThrowsAsync<Broker.Limits.LimitExceededException>(() => s.UpsertAsync(s.Define(Daily, "c")));
        Assert.Equal(UpsertOutcome.Updated, (await s.UpsertAsync(s.Define(Minutely, "b"))).Outcome);
    }

    [Theory]
    [InlineData("* * * *", "", "cron")]
    [InlineData("61 * * * *", "", "cron")]
    [InlineData("* * * * *", "Mars/Olympus", "time_zone")]
    public async Task A_bad_definition_is_refused_naming_the_field(string cron, string zone, string field)
    {
        var s = await NewSchedulesAsync();
        var ex = await Assert.ThrowsAsync<TaskValidationException>(() => s.UpsertAsync(s.Define(cron) with { TimeZone = zone }));
        Assert.Equal(field, ex.Field);
        Assert.Empty((await s.Store.ReadAllAsync(s.Queue)).Schedules);
    }

    [Fact]
    public async Task A_slots_task_and_a_triggered_one_carry_the_templates_group_and_wait_in_its_lane()
    {
        var s = await Schedules.CreateAsync();
        var grouped = s.Define(Daily) with { Template = new ScheduleTemplate("report", "v1"u8.ToArray()) { Group = "acme" } };
        var stored = (await s.UpsertAsync(grouped)).Schedule;
        Assert.Equal("acme", stored.Definition.Template.Group);
        var slot = stored.NextRun!.Value;
        s.AdvanceTo(slot + TimeSpan.FromMilliseconds(100));

        Assert.Equal(1, await s.VisitAsync());
        var triggered = (await s.Book.TriggerAsync(s.Queue, "nightly", default))!.Value;

        var ids = new[] { SlotTaskId.For(s.Queue, "nightly", slot.ToUnixTimeMilliseconds()), triggered };
        foreach (var id in ids)
        {
            Assert.Equal("acme", (string?)await s.H.Db.HashGetAsync(RedisKeys.Task(id), TaskFields.Group));
            Assert.Equal("acme", (await SnapshotAsync(s.H, id)).Group);
        }

        // Both wait in the group's lane (a sorted set of task ids), none in the lane without a group.
        Assert.Equal(ids.Select(id => id.LocalId), await LaneTaskIdsAsync(s.H, RedisKeys.Lane(0, "report", "acme")));
        Assert.Empty(await LaneTaskIdsAsync(s.H, RedisKeys.Lane(0, "report")));

        await AssertConsistentAsync(s.H);
    }

    [Fact]
    public async Task An_upsert_that_changes_only_the_group_is_a_changed_definition_and_the_next_slot_gets_the_new_group()
    {
        var s = await Schedules.CreateAsync();
        var first = await s.UpsertAsync(s.Define(Daily));
        Assert.Equal("", first.Schedule.Definition.Template.Group);

        var regrouped = await s.UpsertAsync(s.Define(Daily) with { Template = new ScheduleTemplate("report", "v1"u8.ToArray()) { Group = "acme" } });

        Assert.Equal(UpsertOutcome.Updated, regrouped.Outcome);
        Assert.True(regrouped.Schedule.Version > first.Schedule.Version);
        Assert.Equal(first.Schedule.NextRun, regrouped.Schedule.NextRun);
        Assert.Equal("acme", (await s.GetAsync()).Definition.Template.Group);
        var again = await s.UpsertAsync(s.Define(Daily) with { Template = new ScheduleTemplate("report", "v1"u8.ToArray()) { Group = "acme" } });
        Assert.Equal(UpsertOutcome.Unchanged, again.Outcome);

        s.AdvanceTo(first.Schedule.NextRun!.Value + TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, await s.VisitAsync());
        var task = await SnapshotAsync(s.H, SlotTaskId.For(s.Queue, "nightly", first.Schedule.NextRun!.Value.ToUnixTimeMilliseconds()));
        Assert.Equal("acme", task.Group);
    }

    [Fact]
    public async Task A_schedule_stored_before_templates_had_a_group_is_unchanged_by_the_same_definition_without_one()
    {
        var s = await Schedules.CreateAsync();
        var first = await s.UpsertAsync(s.Define(Daily));
        await s.H.Db.HashDeleteAsync(RedisKeys.Schedule(s.Queue, "nightly"), ScheduleFields.Group);

        var again = await s.UpsertAsync(s.Define(Daily));

        Assert.Equal(UpsertOutcome.Unchanged, again.Outcome);
        Assert.Equal(first.Schedule.Version, again.Schedule.Version);
        Assert.Equal("", again.Schedule.Definition.Template.Group);
    }

    [Theory]
    [InlineData("line\nbreak")]
    [InlineData("long")]
    public async Task A_template_with_a_bad_group_is_refused_as_a_submit_would_be(string group)
    {
        var s = await Schedules.CreateAsync();
        var bad = group == "long" ? new string('g', TaskValidation.MaxGroupLength + 1) : group;

        var ex = await Assert.ThrowsAsync<TaskValidationException>(
            () => s.UpsertAsync(s.Define(Daily) with { Template = new ScheduleTemplate("report", "v1"u8.ToArray()) { Group = bad } }));

        Assert.Equal("group", ex.Field);
        Assert.Empty((await s.Store.ReadAllAsync(s.Queue)).Schedules);
    }

    /// <summary>A schedule store, book and firers over the shared Redis with a harness's queue and movable clock.</summary>
    private sealed class Schedules
    {
        private Schedules(StoreHarness h, ScheduleOptions options)
        {
            H = h;
            Options = options;
            Store = new RedisScheduleStore(h.Redis.Connection, Microsoft.Extensions.Options.Options.Create(h.Store.Options), h.Clock);
            Book = new ScheduleBook(Store, h.Store, Ready, Microsoft.Extensions.Options.Options.Create(options));
        }

        public StoreHarness H { get; }

        public ScheduleOptions Options { get; }

        public RedisScheduleStore Store { get; }

        internal ScheduleBook Book { get; }

        internal RecordingReadyAnnouncer Ready { get; } = new();

        public string Queue => H.Queue;

        public static async Task<Schedules> CreateAsync(Action<ScheduleOptions>? configure = null, bool onCluster = false)
        {
            var options = new ScheduleOptions();
            configure?.Invoke(options);
            return new Schedules(await StoreHarness.CreateAsync(onCluster: onCluster), options);
        }

        public ScheduleDefinition Define(string cron, string name = "nightly") =>
            new(Queue, name, cron, "", new ScheduleTemplate("report", "v1"u8.ToArray()));

        public Task<UpsertResult> UpsertAsync(ScheduleDefinition definition) => Book.UpsertAsync(definition, default);

        public async Task<ScheduleSnapshot> GetAsync(string name = "nightly") =>
            await Book.GetAsync(Queue, name, default) ?? throw new InvalidOperationException($"no schedule {name}");

        internal ScheduleFirer NewFirer() => new(Store, H.Store, Ready, Microsoft.Extensions.Options.Options.Create(Options), NullLogger<ScheduleFirer>.Instance);

        public async Task<int> VisitAsync() => (await NewFirer().VisitAsync(Queue, default)).Created;

        public async Task<long> NowMsAsync() => (await Store.ReadAllAsync(Queue)).NowMs;

        /// <summary>Shifts the store's clock so that Redis's time now reads <paramref name="at"/>.</summary>
        public void AdvanceTo(DateTimeOffset at) => H.Clock.Value = at - DateTimeOffset.UtcNow;
    }

    /// <summary>The task ids waiting in a lane, in claim order: a group lane's sorted set, or a stream's entries.</summary>
    private static async Task<IReadOnlyList<string>> LaneTaskIdsAsync(StoreHarness h, string lane) =>
        lane.Contains(RedisKeys.GroupMark, StringComparison.Ordinal)
            ? [.. (await h.Db.SortedSetRangeByRankAsync(RedisKeys.GroupReady(h.Queue, lane))).Select(m => (string)m!)]
            : [.. (await h.Db.StreamRangeAsync(RedisKeys.ReadyLane(h.Queue, lane))).Select(e => (string)e.Values.Single(v => v.Name == "id").Value!)];
}
