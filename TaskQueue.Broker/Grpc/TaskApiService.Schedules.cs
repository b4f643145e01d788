using Grpc.Core;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Grpc;

/// <summary>The schedule RPCs: parse, call the <see cref="ScheduleBook"/>, map; every change on the audit trail.</summary>
internal sealed partial class TaskApiService
{
    public override Task<UpsertScheduleResponse> UpsertSchedule(UpsertScheduleRequest request, ServerCallContext context)
    {
        var definition = ProtoMapping.ToDefinition(request.Schedule);
        return AuditedAsync(
            context, AuditActions.UpsertSchedule, definition.Queue, definition.Name,
            async () =>
            {
                var result = await schedules.UpsertAsync(definition, context.CancellationToken);
                return new UpsertScheduleResponse
                {
                    Schedule = ProtoMapping.ToProto(result.Schedule),
                    Created = result.Outcome == UpsertOutcome.Created,
                    Unchanged = result.Outcome == UpsertOutcome.Unchanged,
                };
            },
            response => $"{AuditOutcomes.Ok}: {(response.Created ? "created" : response.Unchanged ? "unchanged" : "updated")}, version {response.Schedule.Version}");
    }

    public override async Task<ScheduleInfo> GetSchedule(GetScheduleRequest request, ServerCallContext context)
    {
        TaskValidation.ValidateQueueName(request.Queue);
        return ProtoMapping.ToProto(await schedules.GetAsync(request.Queue, request.Name, context.CancellationToken) ?? throw NoSchedule(request.Queue, request.Name));
    }

    public override async Task<ListSchedulesResponse> ListSchedules(ListSchedulesRequest request, ServerCallContext context)
    {
        IEnumerable<string> queues;
        if (request.Queue.Length > 0)
        {
            TaskValidation.ValidateQueueName(request.Queue);
            queues = [request.Queue];
        }
        else
        {
            var scopes = CallerIdentity.Scopes(context.GetHttpContext().User);
            queues = (await schedules.QueuesAsync(context.CancellationToken)).Where(queue => Scopes.Allow(scopes, ScopeActions.Read, [queue]));
        }

        var found = await schedules.ListAsync(queues, context.CancellationToken);
        return new ListSchedulesResponse { Schedules = { found.Select(ProtoMapping.ToProto) } };
    }

    public override Task<DeleteScheduleResponse> DeleteSchedule(DeleteScheduleRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.DeleteSchedule, request.Queue, request.Name,
            async () => await schedules.DeleteAsync(request.Queue, request.Name, context.CancellationToken)
                ? new DeleteScheduleResponse()
                : throw NoSchedule(request.Queue, request.Name),
            _ => $"{AuditOutcomes.Ok}: deleted");

    public override Task<ScheduleInfo> PauseSchedule(PauseScheduleRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.PauseSchedule, request.Queue, request.Name,
            async () =>
            {
                TaskValidation.ValidateQueueName(request.Queue);
                return ProtoMapping.ToProto(await schedules.PauseAsync(request.Queue, request.Name, context.CancellationToken) ?? throw NoSchedule(request.Queue, request.Name));
            },
            _ => $"{AuditOutcomes.Ok}: paused");

    public override Task<ScheduleInfo> ResumeSchedule(ResumeScheduleRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.ResumeSchedule, request.Queue, request.Name,
            async () =>
            {
                TaskValidation.ValidateQueueName(request.Queue);
                return ProtoMapping.ToProto(await schedules.ResumeAsync(request.Queue, request.Name, context.CancellationToken) ?? throw NoSchedule(request.Queue, request.Name));
            },
            response => $"{AuditOutcomes.Ok}: resumed, next run {response.NextRun?.ToDateTimeOffset().ToString("O", System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");

    public override Task<TriggerScheduleResponse> TriggerSchedule(TriggerScheduleRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.TriggerSchedule, request.Queue, request.Name,
            async () =>
            {
                TaskValidation.ValidateQueueName(request.Queue);
                var id = await schedules.TriggerAsync(request.Queue, request.Name, context.CancellationToken) ?? throw NoSchedule(request.Queue, request.Name);
                return new TriggerScheduleResponse { TaskId = id.ToString() };
            },
            response => $"{AuditOutcomes.Ok}: task {response.TaskId}");

    private static RpcException NoSchedule(string queue, string name) =>
        new(new Status(StatusCode.NotFound, $"Queue '{queue}' has no schedule '{name}'."));
}
