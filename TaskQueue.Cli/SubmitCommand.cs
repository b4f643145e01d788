using System.CommandLine;
using System.Text;
using TaskQueue.Client;

namespace TaskQueue.Cli;

internal static class SubmitCommand
{
    public static Command Create(CliHost host)
    {
        var queue = TaskQueueCli.QueueOption();
        var type = new Option<string>("--type", "-t") { Description = "Task type (the worker handler), e.g. echo.", Required = true };
        var payload = new Option<string>("--payload", "-p") { Description = "Payload, sent as UTF-8.", DefaultValueFactory = _ => string.Empty };
        var priority = new Option<int>("--priority") { Description = "0 (lowest, default) to 9 (highest)." };
        priority.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is < TaskRequest.MinPriority or > TaskRequest.MaxPriority)
            {
                result.AddError($"--priority must be {TaskRequest.MinPriority}..{TaskRequest.MaxPriority}.");
            }
        });
        var delay = TaskQueueCli.DurationOption("--delay", "Run no earlier than this after submission");
        var maxAttempts = new Option<int>("--max-attempts") { Description = "Attempts before dead-lettering (0: broker default)." };
        var timeout = TaskQueueCli.DurationOption("--timeout", "Execution timeout of one attempt");
        var expiresAfter = TaskQueueCli.DurationOption("--expires-after", "Drop the task if not started within this time");
        var idempotencyKey = new Option<string?>("--idempotency-key") { Description = "Submitting the same key again returns the first task." };
        var uniqueKey = new Option<string?>("--unique-key")
        {
            Description = "While a task with this key is waiting or running, submitting it again returns that task.",
        };
        var debounceKey = new Option<string?>("--debounce-key")
        {
            Description = "While a task with this key still waits, submitting it again replaces its payload and restarts its --debounce window.",
        };
        var debounce = TaskQueueCli.DurationOption("--debounce", "With --debounce-key: start no earlier than this after the last submit");
        var group = new Option<string?>("--group") { Description = "The task's group (tenant, customer): claims go round-robin across groups." };

        var command = new Command("submit", "Submit a task and print its id.")
        {
            queue, type, payload, priority, delay, maxAttempts, timeout, expiresAfter, idempotencyKey, uniqueKey, debounceKey, debounce, group,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(debounceKey) is { Length: > 0 } != result.GetValue(debounce) is not null)
            {
                result.AddError("--debounce-key and --debounce go together.");
            }
        });
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var request = new TaskRequest
            {
                Queue = parseResult.GetRequiredValue(queue),
                Type = parseResult.GetRequiredValue(type),
                Payload = Encoding.UTF8.GetBytes(parseResult.GetValue(payload) ?? string.Empty),
                Priority = parseResult.GetValue(priority),
                MaxAttempts = parseResult.GetValue(maxAttempts),
                Delay = parseResult.GetValue(delay),
                ExecutionTimeout = parseResult.GetValue(timeout),
                ExpiresAfter = parseResult.GetValue(expiresAfter),
                IdempotencyKey = parseResult.GetValue(idempotencyKey),
                UniqueKey = parseResult.GetValue(uniqueKey),
                DebounceKey = parseResult.GetValue(debounceKey),
                DebounceWindow = parseResult.GetValue(debounce),
                Group = parseResult.GetValue(group),
            };
            var result = await cli.Client.SubmitAsync(request, token);
            await cli.Output.WriteLineAsync(result.TaskId);
            var note = result.Outcome switch
            {
                SubmitOutcome.IdempotentDuplicate => "duplicate: the idempotency key matched an earlier task",
                SubmitOutcome.UniqueExisting => "duplicate: a task with this unique key is waiting or running",
                SubmitOutcome.Debounced => "debounced: the waiting task with this debounce key now has this payload and starts later",
                _ => null,
            };
            if (note is not null)
            {
                await cli.Error.WriteLineAsync(note);
            }

            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
