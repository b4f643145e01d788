using System.CommandLine;
using TaskQueue.Client;

namespace TaskQueue.Cli;

internal static class DeadLetterCommand
{
    public static Command Create(CliHost host) => new("dlq", "Inspect and manage dead letters.")
    {
        CreateList(host),
        CreateBulk(host, "replay", "Move dead letters back to their queue.", "replayed",
            (client, queue, ids, token) => ids is null ? client.ReplayAllDeadLettersAsync(queue, token) : client.ReplayDeadLettersAsync(queue, ids, token)),
        CreateBulk(host, "purge", "Delete dead letters.", "purged",
            (client, queue, ids, token) => ids is null ? client.PurgeAllDeadLettersAsync(queue, token) : client.PurgeDeadLettersAsync(queue, ids, token)),
    };

    private static Command CreateList(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var offset = new Option<int>("--offset") { Description = "Skip this many." };
        var limit = new Option<int>("--limit") { Description = "Show at most this many.", DefaultValueFactory = _ => 50 };
        var json = TaskQueueCli.JsonOption();
        var command = new Command("list", "List a queue's dead letters.") { queue, offset, limit, json };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var page = await cli.Client.ListDeadLettersAsync(
                parseResult.GetRequiredValue(queue), parseResult.GetValue(offset), parseResult.GetValue(limit), token);
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteDeadLettersAsync(cli.Output, parseResult.GetRequiredValue(queue), parseResult.GetValue(offset), page);
                return CliHost.ExitOk;
            }

            foreach (var task in page.Tasks)
            {
                await cli.Output.WriteLineAsync($"{task.TaskId}  {task.Type}  attempts {task.Attempt}/{task.MaxAttempts}  finished {Formatting.Time(task.FinishedAt)}  {task.LastError ?? "-"}");
            }

            await cli.Output.WriteLineAsync($"{page.Tasks.Count} shown, {page.Total} dead letter(s) in '{parseResult.GetRequiredValue(queue)}'");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    private static Command CreateBulk(
        CliHost host,
        string name,
        string description,
        string verb,
        Func<TaskQueueClient, string, string[]?, CancellationToken, Task<long>> run)
    {
        var queue = TaskQueueCli.QueueOption();
        var all = new Option<bool>("--all") { Description = "Every dead letter of the queue." };
        var ids = new Argument<string[]>("ids") { Description = "Task ids.", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command(name, description + " Give ids, or --all.") { queue, all, ids };
        command.Validators.Add(result =>
        {
            var hasIds = result.GetValue(ids) is { Length: > 0 };
            if (hasIds == result.GetValue(all))
            {
                result.AddError("Give either task ids or --all.");
            }
        });
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var selected = parseResult.GetValue(all) ? null : parseResult.GetValue(ids);
            var count = await run(cli.Client, parseResult.GetRequiredValue(queue), selected, token);
            await cli.Output.WriteLineAsync($"{verb} {count}");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
