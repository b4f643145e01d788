using System.CommandLine;
using System.Text.Json;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>taskqueue why &lt;id&gt;</c>: why the task is not running (the Explain RPC), in one reason and one sentence.</summary>
internal static class WhyCommand
{
    public static Command Create(CliHost host)
    {
        var id = new Argument<string>("id") { Description = "Task id." };
        var command = new Command("why", "Explain why a task is not running (or what it is doing).") { id };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var explanation = await cli.Client.ExplainAsync(parseResult.GetRequiredValue(id), token);
            await WriteAsync(cli.Output, explanation);
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }

    /// <summary>"reason: waitingBehind", the sentence, then the figures the reason has.</summary>
    public static async Task WriteAsync(TextWriter output, TaskExplanation explanation)
    {
        await output.WriteLineAsync($"reason: {JsonNamingPolicy.CamelCase.ConvertName(explanation.Reason.ToString())}");
        await output.WriteLineAsync($"state:  {JsonOutput.Name(explanation.State)}");
        await output.WriteLineAsync($"detail: {explanation.Detail}");
        if (explanation.Until is { } until)
        {
            await output.WriteLineAsync($"until:  {Formatting.Time(until)}");
        }

        if (explanation.Reason == TaskExplanationReason.WaitingBehind)
        {
            await output.WriteLineAsync($"ahead:  {(explanation.AheadIsLowerBound ? "at least " : "")}{explanation.Ahead}");
        }

        if (explanation.WorkerId is { } worker)
        {
            await output.WriteLineAsync($"worker: {worker}");
        }
    }
}
