using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>taskqueue schedule upsert|list|get|delete|pause|resume|trigger</c>: cron schedules of a queue.</summary>
internal static class ScheduleCommand
{
    public static Command Create(CliHost host) =>
        new("schedule", "Manage cron schedules: each slot of a schedule creates one task in its queue.")
        {
            CreateUpsert(host), CreateList(host), CreateGet(host), CreateDelete(host), CreatePause(host), CreateResume(host), CreateTrigger(host),
        };

    private static Argument<string> NameArgument() => new("name") { Description = "The schedule's name within the queue." };

    private static Command CreateUpsert(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var name = NameArgument();
        var cron = new Option<string>("--cron") { Description = "Cron expression: 5 fields, or 6 with seconds first (e.g. \"0 3 * * *\", \"*/10 * * * * *\").", Required = true };
        var zone = new Option<string?>("--tz") { Description = "IANA time zone of the cron expression (e.g. Europe/Berlin). Default: UTC." };
        var type = new Option<string>("--type", "-t") { Description = "Task type of the slots' tasks.", Required = true };
        var payload = new Option<string>("--payload", "-p") { Description = "Payload of every slot's task, sent as UTF-8.", DefaultValueFactory = _ => string.Empty };
        var priority = new Option<int>("--priority") { Description = "0 (lowest, default) to 9 (highest)." };
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Attempts before dead-lettering (0: broker default)." };
        var timeout = TaskQueueCli.DurationOption("--timeout", "Execution timeout of one attempt");
        var expiresAfter = TaskQueueCli.DurationOption("--expires-after", "Drop a slot's task if not started within this time");
        var group = new Option<string?>("--group") { Description = "The group of every slot's task (tenant, customer): claims go round-robin across groups." };
        var overlap = new Option<ScheduleOverlap>("--overlap") { Description = "While the previous run is not final: Allow (default), Skip, or QueueOne." };
        var catchUp = new Option<ScheduleCatchUp>("--catch-up") { Description = "Missed slots after an outage: One (default: the latest runs once), Skip, or All." };
        var catchUpMax = new Option<int>("--catch-up-max") { Description = "With --catch-up All: the most missed slots that run (1 to 1000; 0: 10)." };
        var json = TaskQueueCli.JsonOption();
        var command = new Command("upsert", "Create or change a schedule. A change takes effect at the next slot; the same definition again changes nothing.")
        {
            name, queue, cron, zone, type, payload, priority, maxAttempts, timeout, expiresAfter, group, overlap, catchUp, catchUpMax, json,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var result = await cli.Client.UpsertScheduleAsync(
                new ScheduleRequest
                {
                    Queue = parseResult.GetRequiredValue(queue),
                    Name = parseResult.GetRequiredValue(name),
                    Cron = parseResult.GetRequiredValue(cron),
                    TimeZone = parseResult.GetValue(zone),
                    Type = parseResult.GetRequiredValue(type),
                    Payload = Encoding.UTF8.GetBytes(parseResult.GetValue(payload) ?? string.Empty),
                    Priority = parseResult.GetValue(priority),
                    MaxAttempts = parseResult.GetValue(maxAttempts) is > 0 and var max ? max : null,
                    ExecutionTimeout = parseResult.GetValue(timeout),
                    ExpiresAfter = parseResult.GetValue(expiresAfter),
                    Group = parseResult.GetValue(group),
                    Overlap = parseResult.GetValue(overlap),
                    CatchUp = parseResult.GetValue(catchUp),
                    CatchUpMax = parseResult.GetValue(catchUpMax) is > 0 and var n ? n : null,
                },
                token);
            if (parseResult.GetValue(json))
            {
                await WriteJsonAsync(cli.Output, [result.Schedule]);
                return CliHost.ExitOk;
            }

            var what = result.Created ? "created" : result.Unchanged ? "unchanged" : "updated";
            await cli.Output.WriteLineAsync($"{result.Schedule.Definition.Name}: {what}; next run {Formatting.Time(result.Schedule.NextRun)}");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static Command CreateList(CliHost host)
    {
        var queue = new Option<string?>("--queue", "-q") { Description = "Only this queue's schedules (default: every queue you may read)." };
        var json = TaskQueueCli.JsonOption();
        var command = new Command("list", "List schedules with their next run, last run and the last task's state.") { queue, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var schedules = await cli.Client.ListSchedulesAsync(parseResult.GetValue(queue), token);
            if (parseResult.GetValue(json))
            {
                await WriteJsonAsync(cli.Output, schedules);
                return CliHost.ExitOk;
            }

            foreach (var s in schedules)
            {
                await cli.Output.WriteLineAsync(Line(s));
            }

            await cli.Output.WriteLineAsync($"{schedules.Count} schedules");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static Command CreateGet(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var name = NameArgument();
        var json = TaskQueueCli.JsonOption();
        var command = new Command("get", "Show one schedule.") { name, queue, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var s = await cli.Client.GetScheduleAsync(parseResult.GetRequiredValue(queue), parseResult.GetRequiredValue(name), token);
            if (s is null)
            {
                await cli.Error.WriteLineAsync($"No schedule '{parseResult.GetRequiredValue(name)}' in queue '{parseResult.GetRequiredValue(queue)}'.");
                return CliHost.ExitError;
            }

            if (parseResult.GetValue(json))
            {
                await WriteJsonAsync(cli.Output, [s]);
                return CliHost.ExitOk;
            }

            var d = s.Definition;
            await cli.Output.WriteLineAsync(Line(s));
            await cli.Output.WriteLineAsync($"  type {d.Type}, priority {d.Priority}, group {(string.IsNullOrEmpty(d.Group) ? "-" : d.Group)}, overlap {d.Overlap}, catch-up {d.CatchUp}" + (d.CatchUp == ScheduleCatchUp.All ? $" (at most {d.CatchUpMax})" : ""));
            await cli.Output.WriteLineAsync($"  fired {s.Fired}, skipped {s.Skipped}, missed {s.Missed}, version {s.Version}, last task {s.LastTaskId ?? "-"}");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static Command CreateDelete(CliHost host) => Simple(host, "delete", "Delete a schedule (the tasks it created stay).", async (client, queue, name, token) =>
        await client.DeleteScheduleAsync(queue, name, token) ? $"{name}: deleted" : null);

    private static Command CreatePause(CliHost host) => Simple(host, "pause", "Pause a schedule: no slot fires until it resumes.", async (client, queue, name, token) =>
        Line(await client.PauseScheduleAsync(queue, name, token)));

    private static Command CreateResume(CliHost host) => Simple(host, "resume", "Resume a schedule at its next slot after now (the pause's slots do not run).", async (client, queue, name, token) =>
        Line(await client.ResumeScheduleAsync(queue, name, token)));

    private static Command CreateTrigger(CliHost host) => Simple(host, "trigger", "Create the schedule's task now (its own id, whatever the overlap policy); prints its id.", async (client, queue, name, token) =>
        await client.TriggerScheduleAsync(queue, name, token));

    // A command on one named schedule that prints one line (null: no such schedule, exit 2).
    private static Command Simple(CliHost host, string verb, string description, Func<TaskQueueClient, string, string, CancellationToken, Task<string?>> act)
    {
        var queue = TaskQueueCli.QueueOption();
        var name = NameArgument();
        var command = new Command(verb, description) { name, queue };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var line = await act(cli.Client, parseResult.GetRequiredValue(queue), parseResult.GetRequiredValue(name), token);
            if (line is null)
            {
                await cli.Error.WriteLineAsync($"No schedule '{parseResult.GetRequiredValue(name)}' in queue '{parseResult.GetRequiredValue(queue)}'.");
                return CliHost.ExitError;
            }

            await cli.Output.WriteLineAsync(line);
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static string Line(ScheduleInfo s)
    {
        var d = s.Definition;
        var state = s.Paused ? "paused" : "active";
        var last = s.LastRun is { } at ? Formatting.Time(at) : "-";
        var lastTask = s.LastTaskState is { } taskState ? taskState.ToString() : "-";
        return $"{d.Queue}/{d.Name}  \"{d.Cron}\" {d.TimeZone ?? "UTC"}  {state}  next {Formatting.Time(s.NextRun)}  last {last}  last task {lastTask}";
    }

    private static Task WriteJsonAsync(TextWriter output, IEnumerable<ScheduleInfo> schedules) =>
        output.WriteLineAsync(JsonSerializer.Serialize(
            new ScheduleListJson([.. schedules.Select(s => new ScheduleJson(
                s.Definition.Queue, s.Definition.Name, s.Definition.Cron, s.Definition.TimeZone ?? "", s.Definition.Type, s.Definition.Group ?? "",
                s.Definition.Overlap.ToString(),
                s.Definition.CatchUp.ToString(), s.Paused, s.NextRun, s.LastRun, s.LastTaskId, s.LastTaskState?.ToString(), s.Fired, s.Skipped, s.Missed,
                s.Version))]),
            ScheduleJsonContext.Default.ScheduleListJson));
}

/// <summary><c>schedule list --json</c> (and get, upsert): the schedules.</summary>
internal sealed record ScheduleListJson(IReadOnlyList<ScheduleJson> Schedules);

/// <summary>One schedule in the JSON output.</summary>
internal sealed record ScheduleJson(
    string Queue, string Name, string Cron, string TimeZone, string Type, string Group, string Overlap, string CatchUp, bool Paused, DateTimeOffset? NextRun,
    DateTimeOffset? LastRun, string? LastTaskId, string? LastTaskState, long Fired, long Skipped, long Missed, long Version);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ScheduleListJson))]
internal sealed partial class ScheduleJsonContext : JsonSerializerContext;
