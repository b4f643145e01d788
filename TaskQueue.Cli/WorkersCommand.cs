using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>workers drain</c>: drain one worker (it takes no new tasks, finishes what it runs and stays connected).</summary>
internal static class WorkersCommand
{
    public static Command Create(CliHost host) => new("workers", "Act on connected workers.")
    {
        CreateDrain(host),
    };

    private static Command CreateDrain(CliHost host)
    {
        var id = new Argument<string>("id") { Description = "Worker id (as the dashboard's Workers page and GET /workers show it)." };
        var json = TaskQueueCli.JsonOption();
        var command = new Command(
            "drain",
            "Drain a worker: it takes no new tasks, finishes what it runs and stays connected, shown as draining, until its process restarts.")
        {
            id, json,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var workerId = parseResult.GetRequiredValue(id);
            var result = await cli.Client.DrainWorkerAsync(workerId, token);
            if (parseResult.GetValue(json))
            {
                await cli.Output.WriteLineAsync(JsonSerializer.Serialize(
                    new WorkerDrainJson(workerId, result.Status, result.Broker, result.DeliveredHere, result.BrokersTold),
                    WorkerDrainJsonContext.Default.WorkerDrainJson));
                return CliHost.ExitOk;
            }

            await cli.Output.WriteLineAsync($"worker: {workerId}");
            await cli.Output.WriteLineAsync($"status: {result.Status}");
            await cli.Output.WriteLineAsync($"broker: {result.Broker}");
            await cli.Output.WriteLineAsync(result.DeliveredHere
                ? "delivered: to its session on this broker"
                : $"delivered: published to {result.BrokersTold} other broker(s); its broker also drains it at its next heartbeat");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}

internal sealed record WorkerDrainJson(string WorkerId, string Status, string Broker, bool DeliveredHere, int BrokersTold);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(WorkerDrainJson))]
internal sealed partial class WorkerDrainJsonContext : JsonSerializerContext;
