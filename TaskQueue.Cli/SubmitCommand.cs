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

        var command = new Command("submit", "Submit a task and print its id.")
        {
            queue, type, payload, priority, delay, maxAttempts, timeout, expiresAfter, idempotencyKey,
        };
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
            };
            var result = await cli.Client.SubmitAsync(request, token);
            await cli.Output.WriteLineAsync(result.TaskId);
            if (result.Duplicate)
            {
                await cli.Error.WriteLineAsync("duplicate: the idempotency key matched an earlier task");
            }

            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}
