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
        var progress = new Option<bool>("--progress")
        {
            Description = "Show the task's state changes and progress as a text bar while waiting (one line per change when not on a terminal).",
        };
        var command = new Command(
            "wait",
            $"Wait until a task is final and show it. Exit code 0: completed; 1: final but not completed; {ExitStillRunning}: not final yet.")
        {
            id, timeout, progress,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var taskId = parseResult.GetRequiredValue(id);
            var limit = parseResult.GetValue(timeout) ?? TimeSpan.FromSeconds(30);
            var task = parseResult.GetValue(progress)
                ? await WatchAsync(cli, taskId, limit, token)
                : await cli.Client.WaitAsync(taskId, limit, token);
            await Formatting.WriteSnapshotAsync(cli.Output, task);
            return task.State == TaskState.Completed ? CliHost.ExitOk
                : task.IsFinal ? CliHost.ExitNotCompleted
                : ExitStillRunning;
        }, cancellationToken));
        return command;
    }

    /// <summary>Watches the task with a progress bar until it is final or the timeout passes; returns its state then.</summary>
    private static async Task<TaskSnapshot> WatchAsync(CliContext cli, string taskId, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        var bar = new ProgressBar(cli.Output, ProgressBar.CanRedraw(cli.Output));
        TaskSnapshot? last = null;
        try
        {
            await foreach (var watched in cli.Client.WatchAsync(taskId, timer.Token))
            {
                last = watched.Task;
                await bar.WriteAsync(watched);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timeout passed: show the task as it is now.
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.Cancelled && !cancellationToken.IsCancellationRequested)
        {
            // The timeout cancelled the call itself.
        }

        await bar.EndAsync();
        // Watch events leave out the payload and result: the summary shows the task as Get has it (or, once its
        // retention ended, as the watch last saw it).
        try
        {
            return await cli.Client.GetAsync(taskId, cancellationToken);
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound && last is not null)
        {
            return last;
        }
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
