using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>One connected worker as a broker's GET /workers lists it.</summary>
public sealed record WorkerRow(
    string Id, string Status, IReadOnlyList<string> Queues, int Slots, int BusySlots, int StuckSlots,
    long TasksCompleted, DateTimeOffset? LastHeartbeat, string Broker, DateTimeOffset? QuarantinedUntil)
{
    /// <summary>The task types it handles; empty: every type.</summary>
    public IReadOnlyList<string> TaskTypes { get; init; } = [];

    /// <summary>The tasks it runs ("queue:id"), the first 100 of <see cref="BusySlots"/>.</summary>
    public IReadOnlyList<string> RunningTasks { get; init; } = [];
}

/// <summary>
/// Reads a broker's GET /workers (the worker registry in Redis, the same from every broker) with the operator's key:
/// the gRPC API has no call for it. A refusal is mapped to the RpcException the gRPC calls raise, so pages handle both alike.
/// </summary>
public sealed class WorkersReader(HttpClient http, IOptions<DashboardOptions> options)
{
    private readonly Uri _address = new(options.Value.BrokerHttpAddress!, "/workers");

    public async Task<IReadOnlyList<WorkerRow>> ListAsync(string credential, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _address);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"The broker's /workers could not be reached: {ex.Message}"));
        }

        using (response)
        {
            var status = response.StatusCode switch
            {
                HttpStatusCode.OK => StatusCode.OK,
                HttpStatusCode.Unauthorized => StatusCode.Unauthenticated,
                HttpStatusCode.Forbidden => StatusCode.PermissionDenied,
                _ => StatusCode.Unavailable,
            };
            if (status != StatusCode.OK)
            {
                throw new RpcException(new Status(status, $"GET /workers answered {(int)response.StatusCode}."));
            }

            var workers = await response.Content.ReadFromJsonAsync<Dictionary<string, WorkerJson>>(cancellationToken) ?? [];
            return [.. workers
                .Select(w => new WorkerRow(
                    w.Key, w.Value.Status, w.Value.Queues ?? [], w.Value.Slots, w.Value.BusySlots, w.Value.StuckSlots,
                    w.Value.TasksCompleted, w.Value.LastHeartbeat, w.Value.Broker ?? "", w.Value.QuarantinedUntil)
                {
                    TaskTypes = w.Value.TaskTypes ?? [],
                    RunningTasks = w.Value.RunningTasks ?? [],
                })
                .OrderBy(w => w.Id, StringComparer.Ordinal)];
        }
    }

    private sealed record WorkerJson(
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("tasks_completed")] long TasksCompleted,
        [property: JsonPropertyName("last_heartbeat")] DateTimeOffset? LastHeartbeat,
        [property: JsonPropertyName("slots")] int Slots,
        [property: JsonPropertyName("busy_slots")] int BusySlots,
        [property: JsonPropertyName("stuck_slots")] int StuckSlots,
        [property: JsonPropertyName("queues")] IReadOnlyList<string>? Queues,
        [property: JsonPropertyName("broker")] string? Broker,
        [property: JsonPropertyName("quarantined_until")] DateTimeOffset? QuarantinedUntil,
        [property: JsonPropertyName("task_types")] IReadOnlyList<string>? TaskTypes,
        [property: JsonPropertyName("running_tasks")] IReadOnlyList<string>? RunningTasks);
}
