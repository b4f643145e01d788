using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Grpc.Core;
using Grpc.Net.Client;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Hosting;

/// <summary>
/// The dashboard's commands on a TaskQueue: replay or purge the dead letters of every queue, through a running
/// broker (the queues and their dead-letter counts from <c>GET /metrics</c>, the change over gRPC), as the operator:
/// every request carries the TaskQueue's operator key (<c>Authorization: Bearer</c>).
/// </summary>
internal static class DeadLetterCommands
{
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(30);

    public static IResourceBuilder<TaskQueueResource> WithDeadLetterCommands(this IResourceBuilder<TaskQueueResource> builder) =>
        builder
            .WithCommand(TaskQueueResource.ReplayDeadLettersCommandName, "Replay dead letters", context => RunAsync(builder.Resource, replay: true, context.CancellationToken), new CommandOptions
            {
                Description = "Moves every dead-lettered task of every queue back to ready, to run again.",
                IconName = "ArrowRepeatAll",
                UpdateState = WhenRunning,
            })
            .WithCommand(TaskQueueResource.PurgeDeadLettersCommandName, "Purge dead letters", context => RunAsync(builder.Resource, replay: false, context.CancellationToken), new CommandOptions
            {
                Description = "Deletes every dead-lettered task of every queue.",
                ConfirmationMessage = "Delete every dead-lettered task of every queue? This cannot be undone.",
                IconName = "Delete",
                UpdateState = WhenRunning,
            });

    private static ResourceCommandState WhenRunning(UpdateCommandStateContext context) =>
        context.ResourceSnapshot.State?.Text == KnownResourceStates.Running ? ResourceCommandState.Enabled : ResourceCommandState.Disabled;

    private static async Task<ExecuteCommandResult> RunAsync(TaskQueueResource taskQueue, bool replay, CancellationToken cancellationToken)
    {
        var broker = taskQueue.Brokers.FirstOrDefault(b => b.HttpEndpoint.IsAllocated && b.GrpcEndpoint.IsAllocated);
        if (broker is null)
        {
            return CommandResults.Failure("No broker is running.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_callTimeout);
        try
        {
            var key = await taskQueue.AdminKeyParameter.GetValueAsync(timeout.Token) ?? "";
            var queues = await DeadLetteredQueuesAsync(new Uri(broker.HttpEndpoint.Url), key, timeout.Token);
            using var channel = GrpcChannel.ForAddress(broker.GrpcEndpoint.Url);
            var tasks = new TaskService.TaskServiceClient(channel);
            var headers = new Metadata { { "Authorization", $"Bearer {key}" } };
            long total = 0;
            foreach (var queue in queues)
            {
                total += replay
                    ? (await tasks.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = queue, All = true }, headers, cancellationToken: timeout.Token)).Replayed
                    : (await tasks.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Queue = queue, All = true }, headers, cancellationToken: timeout.Token)).Purged;
            }

            var verb = replay ? "Replayed" : "Purged";
            return CommandResults.Success(queues.Count == 0
                ? "No dead letters."
                : string.Create(CultureInfo.InvariantCulture, $"{verb} {total} dead letters ({string.Join(", ", queues)})."));
        }
        catch (Exception ex) when (ex is HttpRequestException or RpcException or OperationCanceledException or JsonException)
        {
            return CommandResults.Failure($"{broker.Name}: {ex.Message}");
        }
    }

    /// <summary>The queues that have dead letters, from the broker's <c>GET /metrics</c> (<c>queues.{name}.dead_letter</c>).</summary>
    private static async Task<List<string>> DeadLetteredQueuesAsync(Uri broker, string key, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = broker };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var metrics = await http.GetFromJsonAsync<JsonElement>(new Uri("/metrics", UriKind.Relative), cancellationToken);
        return [.. metrics.GetProperty("queues").EnumerateObject()
            .Where(queue => queue.Value.GetProperty("dead_letter").GetInt64() > 0)
            .Select(queue => queue.Name)
            .Order(StringComparer.Ordinal)];
    }
}
