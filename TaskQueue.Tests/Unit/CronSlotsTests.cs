using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

/// <summary>The slot calculator (Cronos in a time zone) and the planner of a visit, on fixed instants (no clock read).</summary>
public sealed class CronSlotsTests
{
    private const string Berlin = "Europe/Berlin";

    private static long Ms(string utc) => DateTimeOffset.Parse(utc, System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();

    private static string Utc(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Five_fields_are_minutes_and_six_fields_start_with_seconds()
    {
        Assert.Equal("2026-12-02T12:01:00Z", Utc(CronSlots.Parse("* * * * *", "").NextAfter(Ms("2026-12-02T12:00:00Z"))!.Value));
        Assert.Equal("2026-12-02T12:00:01Z", Utc(CronSlots.Parse("*/1 * * * * *", "").NextAfter(Ms("2026-12-02T12:00:00Z"))!.Value));
    }

    [Fact]
    public void A_slot_is_a_wall_clock_time_in_the_schedules_time_zone()
    {
        var slots = CronSlots.Parse("0 9 * * *", Berlin);

        Assert.Equal("2026-12-03T08:00:00Z", Utc(slots.NextAfter(Ms("2026-12-02T12:00:00Z"))!.Value)); // CET, UTC+1
        Assert.Equal("2026-07-02T07:00:00Z", Utc(slots.NextAfter(Ms("2026-07-01T12:00:00Z"))!.Value)); // CEST, UTC+2
    }

    [Fact]
    public void On_the_spring_forward_day_a_time_that_does_not_exist_runs_once_when_the_clocks_jump()
    {
        // 2026-03-29 in Berlin: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist that day.
        var slots = CronSlots.Parse("30 2 * * *", Berlin);

        var day = slots.Between(Ms("2026-03-28T12:00:00Z"), Ms("2026-03-30T12:00:00Z")).Select(Utc).ToList();

        Assert.Equal(["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"], day);
    }

    [Fact]
    public void On_the_fall_back_day_a_time_that_occurs_twice_runs_once_and_a_step_runs_in_both_hours()
    {
        // 2026-10-25 in Berlin: 03:00 CEST becomes 02:00 CET (01:00 UTC); 02:00-02:59 occurs twice.
        var once = CronSlots.Parse("30 2 * * *", Berlin).Between(Ms("2026-10-24T12:00:00Z"), Ms("2026-10-25T12:00:00Z")).Select(Utc).ToList();
        var stepped = CronSlots.Parse("0 */1 * * *", Berlin).Between(Ms("2026-10-24T23:30:00Z"), Ms("2026-10-25T02:30:00Z")).Select(Utc).ToList();

        Assert.Equal(["2026-10-25T00:30:00Z"], once);
        // 02:00 CEST (00:00 UTC), 02:00 CET (01:00 UTC), 03:00 CET (02:00 UTC): every hour that passes, none twice, none lost.
        Assert.Equal(["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"], stepped);
    }

    [Fact]
    public void The_planner_fires_each_slot_of_a_day_crossing_a_dst_change_once_as_a_fake_clock_moves_through_it()
    {
        // A broker visiting every 10 minutes (its clock faked) through the fall-back night: each visit plans from the
        // next slot the previous one left; together they fire every slot once.
        var slots = CronSlots.Parse("*/15 * * * *", Berlin);
        var next = slots.NextAtOrAfter(Ms("2026-10-24T22:00:00Z"))!.Value;
        var fired = new List<long>();
        for (var now = Ms("2026-10-24T22:00:00Z"); now <= Ms("2026-10-25T04:00:00Z"); now += 10 * 60_000)
        {
            var plan = SlotPlanner.Plan(slots, next, now, CatchUpPolicy.Skip, 10, TimeSpan.FromMinutes(15));
            fired.AddRange(plan.Fire);
            next = plan.Next!.Value;
        }

        // Six hours of UTC time, a slot every 15 minutes whatever the wall clock does: 25 slots, each once.
        Assert.Equal(25, fired.Count);
        Assert.Equal(fired.Count, fired.Distinct().Count());
        Assert.All(fired.Zip(fired.Skip(1)), pair => Assert.Equal(15 * 60_000, pair.Second - pair.First));
    }

    [Theory]
    [InlineData(CatchUpPolicy.Skip, 10, new[] { 9 })]
    [InlineData(CatchUpPolicy.One, 10, new[] { 8, 9 })]
    [InlineData(CatchUpPolicy.All, 3, new[] { 6, 7, 8, 9 })]
    [InlineData(CatchUpPolicy.All, 100, new[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 })]
    public void The_plan_fires_on_time_slots_and_the_missed_ones_the_catch_up_policy_keeps(CatchUpPolicy policy, int max, int[] minutes)
    {
        var slots = CronSlots.Parse("* * * * *", "");
        var first = Ms("2026-12-02T12:00:00Z");

        var plan = SlotPlanner.Plan(slots, first, first + (9 * 60_000) + 30_000, policy, max, TimeSpan.FromMinutes(1));

        Assert.Equal(minutes.Select(m => first + (m * 60_000L)), plan.Fire);
        Assert.Equal(10 - minutes.Length, plan.Dropped);
        Assert.Equal(first + (10 * 60_000), plan.Next);
    }

    [Fact]
    public void Slots_within_the_misfire_threshold_all_fire_whatever_the_policy()
    {
        var slots = CronSlots.Parse("* * * * * *", "");
        var first = Ms("2026-12-02T12:00:00Z");

        var plan = SlotPlanner.Plan(slots, first, first + 4_500, CatchUpPolicy.Skip, 1, TimeSpan.FromSeconds(5));

        Assert.Equal([first, first + 1000, first + 2000, first + 3000, first + 4000], plan.Fire);
        Assert.Equal(0, plan.Dropped);
    }

    [Fact]
    public void A_plan_before_the_next_slot_fires_nothing_and_keeps_it()
    {
        var plan = SlotPlanner.Plan(CronSlots.Parse("0 0 * * *", ""), Ms("2026-12-03T00:00:00Z"), Ms("2026-12-02T12:00:00Z"), CatchUpPolicy.All, 10, TimeSpan.FromMinutes(1));

        Assert.Empty(plan.Fire);
        Assert.Equal(Ms("2026-12-03T00:00:00Z"), plan.Next);
    }

    [Fact]
    public void An_expression_that_never_matches_has_no_next_slot() =>
        Assert.Null(CronSlots.Parse("0 0 30 2 *", "").NextAfter(Ms("2026-12-02T12:00:00Z")));

    [Fact]
    public void A_slots_task_id_is_a_valid_local_id_derived_from_queue_schedule_and_slot_alone()
    {
        var id = SlotTaskId.For("q", "nightly", Ms("2026-12-03T00:00:00Z"));

        Assert.True(TaskId.TryParse(id.ToString(), out _));
        Assert.Equal(id, SlotTaskId.For("q", "nightly", Ms("2026-12-03T00:00:00Z")));
        Assert.NotEqual(id, SlotTaskId.For("q", "nightly", Ms("2026-12-03T00:00:01Z")));
        Assert.NotEqual(id, SlotTaskId.For("q", "other", Ms("2026-12-03T00:00:00Z")));
        Assert.NotEqual(id, SlotTaskId.For("q2", "nightly", Ms("2026-12-03T00:00:00Z")));
        Assert.Equal('7', id.LocalId[12]);
        // Slot ids sort by slot, as submitted ids sort by creation.
        Assert.True(string.CompareOrdinal(id.LocalId, SlotTaskId.For("q", "a", Ms("2026-12-04T00:00:00Z")).LocalId) < 0);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a:b")]
    public void A_bad_schedule_name_is_refused(string name) =>
        Assert.Equal("name", Assert.Throws<TaskValidationException>(() => ScheduleValidation.ValidateName(name)).Field);

    [Fact]
    public void The_schedule_options_are_checked_on_start()
    {
        new ScheduleOptions().Validate();
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new ScheduleOptions { MisfireThreshold = TimeSpan.FromMilliseconds(10) }.Validate());
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new ScheduleOptions { MaxSleep = TimeSpan.Zero }.Validate());
        Assert.Throws<System.ComponentModel.DataAnnotations.ValidationException>(() => new ScheduleOptions { MaxSchedulesPerQueue = 0 }.Validate());
    }
}
