using System.CommandLine;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>list</c>: one page of a queue's tasks in one state, with the cursor of the next page.</summary>
internal static class ListCommand
{
    private static readonly TaskState[] s_listable =
    [
        TaskState.Ready, TaskState.Scheduled, TaskState.Leased, TaskState.DeadLettered, TaskState.Completed, TaskState.Cancelled,
        TaskState.Expired,
    ];

    public static Command Create(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var state = new Option<TaskState>("--state", "-s")
        {
            Description = "The state to list: " + string.Join(", ", s_listable.Select(JsonOutput.Name)) + ".",
            Required = true,
            CustomParser = result =>
            {
                var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                var match = s_listable.FirstOrDefault(s => string.Equals(s.ToString(), token.Replace("-", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase));
                if (match == TaskState.Unknown)
                {
                    result.AddError($"'{token}' is not a state to list: use " + string.Join(", ", s_listable.Select(JsonOutput.Name)) + ".");
                }

                return match;
            },
        };
        var type = new Option<string?>("--type", "-t") { Description = "Only tasks of this type (pages may then be shorter)." };
        var limit = new Option<int>("--limit") { Description = "Tasks per page, 1 to 1000.", DefaultValueFactory = _ => 50 };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < 1 or > 1000)
            {
                result.AddError("--limit must be 1..1000.");
            }
        });
        var cursor = new Option<string?>("--cursor") { Description = "Continue from the cursor a previous page printed." };
        var oldest = new Option<bool>("--oldest-first") { Description = "Oldest first (ready: the order they run in); default newest first." };
        var json = TaskQueueCli.JsonOption();
        var command = new Command("list", "List one page of a queue's tasks in one state (payloads left out: get has them).")
        {
            queue, state, type, limit, cursor, oldest, json,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var order = parseResult.GetValue(oldest) ? TaskListOrder.OldestFirst : TaskListOrder.NewestFirst;
            var page = await cli.Client.ListTasksAsync(
                parseResult.GetRequiredValue(queue), parseResult.GetValue(state), parseResult.GetValue(type), parseResult.GetValue(limit),
                parseResult.GetValue(cursor), order, cancellationToken: token);
            if (parseResult.GetValue(json))
            {
                await JsonOutput.WriteTaskPageAsync(cli.Output, parseResult.GetRequiredValue(queue), parseResult.GetValue(state), order, page);
                return CliHost.ExitOk;
            }

            await cli.Output.WriteLineAsync($"{"id",-45}  {"type",-16}  {"state",-12}  {"attempt",7}  {"prio",4}  {"created",-24}  {"due / finished",-24}");
            foreach (var task in page.Tasks)
            {
                var when = task.IsFinal ? task.FinishedAt : task.DueAt;
                await cli.Output.WriteLineAsync(
                    $"{task.TaskId,-45}  {task.Type,-16}  {JsonOutput.Name(task.State),-12}  {$"{task.Attempt}/{task.MaxAttempts}",7}  {task.Priority,4}  " +
                    $"{Formatting.Time(task.CreatedAt),-24}  {Formatting.Time(when),-24}");
            }

            await cli.Output.WriteLineAsync(page.NextCursor is { } next
                ? $"{page.Tasks.Count} shown; next page: --cursor {next}"
                : $"{page.Tasks.Count} shown; no further page");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
