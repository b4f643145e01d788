using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>queue pause|resume|limits|flow</c>: a queue's flow control.</summary>
internal static class QueueCommand
{
    public static Command Create(CliHost host) => new("queue", "Flow control of a queue: pause, resume, limits.")
    {
        CreateSimple(host, "pause", "Pause a queue for every broker: submits are accepted, nothing new starts, running tasks finish.",
            (client, queue, token) => client.PauseQueueAsync(queue, token)),
        CreateSimple(host, "resume", "Resume a paused queue: every broker dispatches its ready tasks at once.",
            (client, queue, token) => client.ResumeQueueAsync(queue, token)),
        CreateLimits(host),
        CreateSimple(host, "flow", "Show a queue's flow control: paused, limits, group overrides, leased now, the rate's tokens.",
            (client, queue, token) => client.GetQueueFlowAsync(queue, token)),
    };

    private static Command CreateSimple(CliHost host, string name, string description, Func<TaskQueueClient, string, CancellationToken, Task<QueueFlowStatus>> run)
    {
        var queue = TaskQueueCli.QueueOption();
        var json = TaskQueueCli.JsonOption();
        var command = new Command(name, description) { queue, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            await WriteAsync(cli.Output, await run(cli.Client, parseResult.GetRequiredValue(queue), token), parseResult.GetValue(json));
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static Command CreateLimits(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var json = TaskQueueCli.JsonOption();
        var group = new Option<string?>("--group") { Description = "Set (or with --clear, clear) this group's overrides instead of the queue's limits." };
        var concurrency = new Option<int?>("--concurrency") { Description = "The most tasks leased at once (0: none)." };
        var rate = new Option<double?>("--rate") { Description = "Tasks started per second (0: none)." };
        var burst = new Option<int?>("--burst") { Description = "The rate's bucket: the most started at once (default one second's worth)." };
        var groupConcurrency = new Option<int?>("--group-concurrency") { Description = "Every group's default concurrency limit." };
        var groupRate = new Option<double?>("--group-rate") { Description = "Every group's default rate limit (per second)." };
        var groupBurst = new Option<int?>("--group-burst") { Description = "Every group's default bucket size." };
        var clear = new Option<bool>("--clear") { Description = "Clear the queue's limits (or, with --group, the group's overrides)." };
        var command = new Command(
            "limits",
            "Set a queue's limits (those not given are cleared), or one group's overrides with --group.")
        {
            queue, group, concurrency, rate, burst, groupConcurrency, groupRate, groupBurst, clear, json,
        };
        command.Validators.Add(result =>
        {
            var any = new[] { result.GetValue(concurrency), result.GetValue(burst), result.GetValue(groupConcurrency), result.GetValue(groupBurst) }.Any(v => v is not null)
                      || result.GetValue(rate) is not null || result.GetValue(groupRate) is not null;
            if (result.GetValue(clear) == any)
            {
                result.AddError("Give limits, or --clear.");
            }

            if (result.GetValue(group) is not null && (result.GetValue(groupConcurrency) is not null || result.GetValue(groupRate) is not null || result.GetValue(groupBurst) is not null))
            {
                result.AddError("With --group give --concurrency, --rate and --burst (the group's own); --group-* are the queue's defaults.");
            }
        });
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var name = parseResult.GetRequiredValue(queue);
            var groupName = parseResult.GetValue(group);
            QueueFlowStatus flow;
            if (groupName is not null)
            {
                flow = parseResult.GetValue(clear)
                    ? await cli.Client.ClearGroupLimitsAsync(name, groupName, token)
                    : await cli.Client.SetGroupLimitsAsync(
                        name,
                        groupName,
                        new GroupLimitSettings { Concurrency = parseResult.GetValue(concurrency), Rate = parseResult.GetValue(rate), Burst = parseResult.GetValue(burst) },
                        token);
            }
            else
            {
                flow = await cli.Client.SetQueueLimitsAsync(
                    name,
                    new QueueLimitSettings
                    {
                        Concurrency = parseResult.GetValue(concurrency),
                        Rate = parseResult.GetValue(rate),
                        Burst = parseResult.GetValue(burst),
                        GroupConcurrency = parseResult.GetValue(groupConcurrency),
                        GroupRate = parseResult.GetValue(groupRate),
                        GroupBurst = parseResult.GetValue(groupBurst),
                    },
                    token);
            }

            await WriteAsync(cli.Output, flow, parseResult.GetValue(json));
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static async Task WriteAsync(TextWriter output, QueueFlowStatus flow, bool json)
    {
        if (json)
        {
            await output.WriteLineAsync(JsonSerializer.Serialize(
                new QueueFlowJson(
                    flow.Queue, flow.Paused, flow.Limits, flow.Leased, flow.Tokens,
                    flow.GroupOverrides.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal)),
                QueueFlowJsonContext.Default.QueueFlowJson));
            return;
        }

        var limits = flow.Limits;
        await output.WriteLineAsync($"queue:             {flow.Queue}");
        await output.WriteLineAsync($"paused:            {(flow.Paused ? "yes" : "no")}");
        await output.WriteLineAsync($"leased:            {flow.Leased}" + (limits.Concurrency is { } c ? $" of {c}" : ""));
        await output.WriteLineAsync($"concurrency:       {Text(limits.Concurrency)}");
        await output.WriteLineAsync($"rate:              {Rate(limits.Rate, limits.Burst)}" + (flow.Tokens is { } t ? string.Create(CultureInfo.InvariantCulture, $" ({t:0.##} tokens now)") : ""));
        await output.WriteLineAsync($"group concurrency: {Text(limits.GroupConcurrency)}");
        await output.WriteLineAsync($"group rate:        {Rate(limits.GroupRate, limits.GroupBurst)}");
        foreach (var (group, o) in flow.GroupOverrides.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            await output.WriteLineAsync($"group '{group}': concurrency {Text(o.Concurrency, "default")}, rate {Rate(o.Rate, o.Burst, "default")}");
        }
    }

    private static string Text(int? value, string none = "none") => value?.ToString(CultureInfo.InvariantCulture) ?? none;

    private static string Rate(double? rate, int? burst, string none = "none") => rate is { } r
        ? string.Create(CultureInfo.InvariantCulture, $"{r}/s") + (burst is { } b ? string.Create(CultureInfo.InvariantCulture, $" burst {b}") : "")
        : none + (burst is { } ob ? string.Create(CultureInfo.InvariantCulture, $" (burst {ob})") : "");
}

internal sealed record QueueFlowJson(
    string Queue, bool Paused, QueueLimitSettings Limits, long Leased, double? Tokens, Dictionary<string, GroupLimitSettings> GroupOverrides);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(QueueFlowJson))]
internal sealed partial class QueueFlowJsonContext : JsonSerializerContext;
