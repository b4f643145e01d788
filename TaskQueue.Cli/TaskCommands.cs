using System.CommandLine;
using TaskQueue.Client;

namespace TaskQueue.Cli;

internal static class TaskCommands
{
    public const int ExitStillRunning = 3;

    public static Command CreateGet(CliHost host)
    {
        var id = new Argument<string>("id") { Description = "Task id." };
        var json = TaskQueueCli.JsonOption();
        var command = new Command("get", "Show a task.") { id, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var task = await cli.Client.GetAsync(parseResult.GetRequiredValue(id), token);
            await (parseResult.GetValue(json) ? JsonOutput.WriteTaskAsync(cli.Output, task) : Formatting.WriteSnapshotAsync(cli.Output, task));
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    public static Command CreateWait(CliHost host)
    {
        var id = new Argument<string>("id") { Description = "Task id." };
        var timeout = TaskQueueCli.DurationOption("--timeout", "How long to wait (default 30s)");
        var command = new Command(
            "wait",
            $"Wait until a task is final and show it. Exit code 0: completed; 1: final but not completed; {ExitStillRunning}: not final yet.")
        {
            id, timeout,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var task = await cli.Client.WaitAsync(
                parseResult.GetRequiredValue(id), parseResult.GetValue(timeout) ?? TimeSpan.FromSeconds(30), token);
            await Formatting.WriteSnapshotAsync(cli.Output, task);
            return task.State == TaskState.Completed ? CliHost.ExitOk
                : task.IsFinal ? CliHost.ExitNotCompleted
                : ExitStillRunning;
        }, cancellationToken));
        return command;
    }

    public static Command CreateCancel(CliHost host)
    {
        var id = new Argument<string>("id") { Description = "Task id." };
        var command = new Command("cancel", "Cancel a task (a running one is cancelled through its worker).") { id };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var result = await cli.Client.CancelAsync(parseResult.GetRequiredValue(id), token);
            await cli.Output.WriteLineAsync($"state: {result.State}{(result.CancelRequested ? " (cancel requested from its worker)" : string.Empty)}");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
