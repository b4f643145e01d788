using System.CommandLine;
using TaskQueue.Client;

namespace TaskQueue.Cli;

internal static class StatsCommand
{
    public static Command Create(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var json = TaskQueueCli.JsonOption();
        var command = new Command("stats", "Show a queue's counts.") { queue, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var stats = await cli.Client.GetQueueStatsAsync(parseResult.GetRequiredValue(queue), token);
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteStatsAsync(cli.Output, stats);
                return CliHost.ExitOk;
            }

            await cli.Output.WriteLineAsync($"queue:         {stats.Queue}");
            await cli.Output.WriteLineAsync($"ready:         {stats.Ready}");
            await cli.Output.WriteLineAsync($"scheduled:     {stats.Scheduled}");
            await cli.Output.WriteLineAsync($"leased:        {stats.Leased}");
            await cli.Output.WriteLineAsync($"dead-lettered: {stats.DeadLettered}");
            await cli.Output.WriteLineAsync($"submitted:     {stats.Submitted}");
            await cli.Output.WriteLineAsync($"completed:     {stats.Completed}");
            await cli.Output.WriteLineAsync($"failed:        {stats.Failed}");
            await cli.Output.WriteLineAsync($"retried:       {stats.Retried}");
            await cli.Output.WriteLineAsync($"expired:       {stats.Expired}");
            await cli.Output.WriteLineAsync($"cancelled:     {stats.Cancelled}");
            await cli.Output.WriteLineAsync($"paused:        {(stats.Paused ? "yes" : "no")}");
            if (stats.Limits.Concurrency is { } concurrency)
            {
                await cli.Output.WriteLineAsync($"concurrency:   {concurrency}");
            }

            if (stats.Limits.Rate is { } rate)
            {
                await cli.Output.WriteLineAsync(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"rate:          {rate}/s"));
            }
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
