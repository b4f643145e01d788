using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;

namespace TaskQueue.Tests.Cli;

/// <summary>The CLI's <c>schedule</c> commands, against a fake broker.</summary>
public sealed class ScheduleCliTests : FakeBrokerCliTests
{
    [Fact]
    public async Task Upsert_sends_the_whole_definition_and_says_what_the_broker_did()
    {
        var (exitCode, output, _) = await RunAsync(
            "schedule", "upsert", "nightly", "-q", "reports", "--cron", "0 3 * * *", "--tz", "Europe/Berlin", "-t", "report", "-p", "hi",
            "--priority", "5", "--max-attempts", "2", "--timeout", "30s", "--group", "acme", "--overlap", "QueueOne", "--catch-up", "All", "--catch-up-max", "7");

        Assert.Equal(0, exitCode);
        Assert.StartsWith("nightly: created", output, StringComparison.Ordinal);
        var spec = Fake.Single<UpsertScheduleRequest>().Schedule;
        Assert.Equal(("reports", "nightly", "0 3 * * *", "Europe/Berlin"), (spec.Queue, spec.Name, spec.Cron, spec.TimeZone));
        Assert.Equal(("report", "hi", 5, 2, TimeSpan.FromSeconds(30)), (spec.Template.Type, spec.Template.Payload.ToStringUtf8(), spec.Template.Priority, spec.Template.MaxAttempts, spec.Template.ExecutionTimeout.ToTimeSpan()));
        Assert.Equal("acme", spec.Template.Group);
        Assert.Equal((ScheduleOverlap.QueueOne, ScheduleCatchUp.All, 7), (spec.Overlap, spec.CatchUp, spec.CatchUpMax));
    }

    [Fact]
    public async Task List_prints_each_schedule_with_its_next_and_last_run_and_the_last_tasks_state()
    {
        Fake.OnListSchedules = _ => new ListSchedulesResponse
        {
            Schedules =
            {
                new ScheduleInfo
                {
                    Spec = new ScheduleSpec { Queue = "reports", Name = "nightly", Cron = "0 3 * * *", Template = new ScheduleTemplate { Type = "report" } },
                    NextRun = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 3, 3, 0, 0, TimeSpan.Zero)),
                    LastRun = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 12, 2, 3, 0, 0, TimeSpan.Zero)),
                    LastTaskId = "reports:abc",
                    LastTaskState = TaskState.Completed,
                },
            },
        };

        var (exitCode, output, _) = await RunAsync("schedule", "list");

        Assert.Equal(0, exitCode);
        Assert.Equal("", Fake.Single<ListSchedulesRequest>().Queue);
        var line = output.Split('\n')[0];
        Assert.Contains("reports/nightly", line, StringComparison.Ordinal);
        Assert.Contains("2026-12-03", line, StringComparison.Ordinal);
        Assert.Contains("last task Completed", line, StringComparison.Ordinal);
        Assert.Contains("1 schedules", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_of_a_schedule_that_does_not_exist_says_so_and_exits_2()
    {
        var (exitCode, _, error) = await RunAsync("schedule", "get", "nope", "-q", "reports");

        Assert.Equal(2, exitCode);
        Assert.Contains("No schedule 'nope'", error, StringComparison.Ordinal);
    }
}
