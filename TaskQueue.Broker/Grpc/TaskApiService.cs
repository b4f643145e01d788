using Grpc.Core;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Audit;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Explain;
using TaskQueue.Broker.Flow;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// The client-facing task API: a thin adapter from protobuf to the store. Admin actions go on the audit trail;
/// Wait and Watch calls hold a slot (<see cref="WaitSlots"/>); a Watch runs in <see cref="TaskWatch"/>. Its methods are bound by <see cref="ParsingGuardMethodProvider"/>.
/// </summary>
[BindServiceMethod(typeof(TaskApiService), nameof(BindThroughParsingGuard))]
internal sealed partial class TaskApiService(
    RedisTaskStore store,
    TaskLister lister,
    AttemptHistory attempts,
    SubmitBatcher submits,
    ClusterEvents cluster,
    TaskWaiters waiters,
    TaskWatch watch,
    WaitSlots waitSlots,
    AuditTrail audit,
    TaskExplainer explainer,
    ScheduleBook schedules,
    QueueFlowControl flow,
    OperatorDrain operatorDrain,
    IOptions<BrokerOptions> options,
    BrokerTelemetry telemetry,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<TaskApiService> logger) : TaskService.TaskServiceBase
{
    private static readonly TimeSpan s_waitRecheck = TimeSpan.FromSeconds(5);
    private readonly BrokerOptions _options = options.Value;

    /// <summary>
    /// What Grpc.AspNetCore's default binder calls for this service: nothing, because
    /// <see cref="ParsingGuardMethodProvider"/> binds the methods (with request parsing that answers INVALID_ARGUMENT).
    /// </summary>
    public static void BindThroughParsingGuard(ServiceBinderBase binder, TaskApiService? service)
    {
    }

    public override async Task<SubmitResponse> Submit(SubmitRequest request, ServerCallContext context)
    {
        if (request.Task is null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "task is required."));
        }

        // Concurrent single submits share enqueue script calls (batched per queue).
        List<NewTask> tasks = [ProtoMapping.ToNewTask(request.Task)];
        var spans = telemetry.StartEnqueue(tasks);
        EnqueueResult result;
        try
        {
            result = (await submits.EnqueueAsync(tasks, context.CancellationToken))[0];
        }
        catch (Exception ex)
        {
            telemetry.Enqueued(tasks, spans, null, ex);
            throw;
        }

        telemetry.Enqueued(tasks, spans, [result], null);
        return ProtoMapping.ToResponse(result);
    }

    public override async Task<SubmitBatchResponse> SubmitBatch(SubmitBatchRequest request, ServerCallContext context)
    {
        if (request.Tasks.Count == 0 || request.Tasks.Count > _options.MaxBatchSubmit)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"A batch holds 1 to {_options.MaxBatchSubmit} tasks."));
        }

        return new SubmitBatchResponse { Results = { await SubmitAsync(request.Tasks, context.CancellationToken) } };
    }

    private async Task<IReadOnlyList<SubmitResponse>> SubmitAsync(IEnumerable<TaskSpec> specs, CancellationToken cancellationToken)
    {
        var tasks = specs.Select(ProtoMapping.ToNewTask).ToList();
        var spans = telemetry.StartEnqueue(tasks);
        IReadOnlyList<EnqueueResult> results;
        try
        {
            results = await submits.EnqueueAsync(tasks, cancellationToken);
        }
        catch (Exception ex)
        {
            telemetry.Enqueued(tasks, spans, null, ex);
            throw;
        }

        telemetry.Enqueued(tasks, spans, results, null);
        return [.. results.Select(ProtoMapping.ToResponse)];
    }

    public override async Task<TaskInfo> Get(GetTaskRequest request, ServerCallContext context)
    {
        var id = TaskId.Parse(request.TaskId);
        var history = attempts.ReadAsync(id, context.CancellationToken);
        var info = ProtoMapping.ToInfo(await GetExistingAsync(id, context.CancellationToken));
        ProtoMapping.AddAttempts(info, await history);
        return info;
    }

    public override async Task<TaskInfo> Wait(WaitTaskRequest request, ServerCallContext context)
    {
        var id = TaskId.Parse(request.TaskId);
        var timeout = ProtoMapping.ToTimeSpan(request.Timeout, "timeout") ?? _options.MaxWait;
        if (timeout < TimeSpan.Zero)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "timeout must not be negative."));
        }

        // Held until the call ends, however it ends: past the caps the call is refused before anything is read.
        using var slot = waitSlots.Enter(CallerIdentity.ConnectionOf(context));
        var deadline = time.GetUtcNow() + (timeout > _options.MaxWait ? _options.MaxWait : timeout);
        var cancellationToken = context.CancellationToken;
        // A stopping broker answers at once rather than holding its shutdown for the whole wait: UNAVAILABLE
        // unless the task is final (never OK with a state that is not), so every client asks again, anywhere.
        var stopping = lifetime.ApplicationStopping;
        // Register first, then read: a finish in between still publishes.
        await store.RegisterWaiterAsync(id);
        try
        {
            while (true)
            {
                var finished = waiters.WhenFinished(id);
                var task = await GetExistingAsync(id, cancellationToken);
                var left = deadline - time.GetUtcNow();
                if (task.IsFinal || left <= TimeSpan.Zero || stopping.IsCancellationRequested)
                {
                    waiters.Forget(id, finished);
                    return task.IsFinal || left <= TimeSpan.Zero ? ProtoMapping.ToInfo(task) : throw Stopping("wait");
                }

                try
                {
                    await finished.WaitAsync(left < s_waitRecheck ? left : s_waitRecheck, cancellationToken)
                        .WaitAsync(stopping);
                }
                catch (TimeoutException)
                {
                    waiters.Forget(id, finished);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    waiters.Forget(id, finished);
                }
            }
        }
        finally
        {
            await store.UnregisterWaiterAsync(id);
        }
    }

    public override async Task<ExplainTaskResponse> Explain(ExplainTaskRequest request, ServerCallContext context)
    {
        var id = TaskId.Parse(request.TaskId);
        var explanation = await explainer.ExplainAsync(id, context.CancellationToken)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"Task {id} does not exist (or its retention ended)."));
        return ProtoMapping.ToProto(explanation);
    }

    public override async Task Watch(WatchTaskRequest request, IServerStreamWriter<TaskEvent> responseStream, ServerCallContext context)
    {
        var id = TaskId.Parse(request.TaskId);
        // A watch holds a Wait slot for its whole life: together they stay within the Wait caps.
        using var slot = waitSlots.Enter(CallerIdentity.ConnectionOf(context));
        // Headers at once: clients' resilience handlers time out streams whose headers come late.
        await context.WriteResponseHeadersAsync([]);
        try
        {
            await watch.RunAsync(
                id,
                (kind, task) => responseStream.WriteAsync(ProtoMapping.ToEvent(kind, task), context.CancellationToken),
                context.CancellationToken);
        }
        catch (TaskGoneException gone)
        {
            throw new RpcException(new Status(StatusCode.NotFound, gone.Message));
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw Stopping("watch");
        }
    }

    /// <summary>A blocked Wait or Watch on a stopping broker: UNAVAILABLE, so the caller asks again (on any broker).</summary>
    private static RpcException Stopping(string call) =>
        new(new Status(StatusCode.Unavailable, $"The broker is stopping: {call} again (on any broker)."));

    public override Task<CancelTaskResponse> Cancel(CancelTaskRequest request, ServerCallContext context)
    {
        var id = TaskId.Parse(request.TaskId);
        return AuditedAsync(context, AuditActions.Cancel, id.Queue, id.ToString(), CancelAsync, CancelOutcome);

        async Task<CancelTaskResponse> CancelAsync()
        {
            var result = await store.CancelAsync(id, context.CancellationToken);
            switch (result.Result)
            {
                case TransitionResult.NotFound:
                    throw new RpcException(new Status(StatusCode.NotFound, $"Task {id} does not exist."));
                case TransitionResult.AlreadyFinished:
                    throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Task {id} already finished."));
                case TransitionResult.CancelRequested:
                    if (result.WorkerId is { } worker)
                    {
                        cluster.PublishCancel(worker, id);
                    }

                    return new CancelTaskResponse { State = Protocol.V1.TaskState.Leased, CancelRequested = true };
                default:
                    return new CancelTaskResponse { State = Protocol.V1.TaskState.Cancelled };
            }
        }
    }

    public override async Task<ListTasksResponse> ListTasks(ListTasksRequest request, ServerCallContext context)
    {
        var page = await lister.ListAsync(ProtoMapping.ToQuery(request), context.CancellationToken);
        return new ListTasksResponse { Tasks = { page.Tasks.Select(ProtoMapping.ToInfo) }, NextCursor = page.NextCursor ?? "" };
    }

    public override async Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context)
    {
        if (request.Offset < 0 || request.Limit < 0 || request.Limit > 1000)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "offset must be >= 0 and limit 0 to 1000."));
        }

        var (tasks, total) = await store.ListDeadLettersAsync(request.Queue, request.Offset, request.Limit == 0 ? 100 : request.Limit, context.CancellationToken);
        return new ListDeadLettersResponse { Tasks = { tasks.Select(ProtoMapping.ToInfo) }, Total = total };
    }

    public override Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context)
    {
        var ids = DeadLetterSelection(request.Queue, request.TaskIds, request.All);
        return AuditedAsync(
            context, AuditActions.ReplayDeadLetters, request.Queue, AuditTrail.Target(ids, request.All),
            async () =>
            {
                var replayed = await store.ReplayDeadLettersAsync(request.Queue, ids, context.CancellationToken);
                if (replayed > 0)
                {
                    cluster.PublishReady(request.Queue);
                }

                return new ReplayDeadLettersResponse { Replayed = replayed };
            },
            response => $"{AuditOutcomes.Ok}: {response.Replayed} replayed");
    }

    public override Task<PurgeDeadLettersResponse> PurgeDeadLetters(PurgeDeadLettersRequest request, ServerCallContext context)
    {
        var ids = DeadLetterSelection(request.Queue, request.TaskIds, request.All);
        return AuditedAsync(
            context, AuditActions.PurgeDeadLetters, request.Queue, AuditTrail.Target(ids, request.All),
            async () => new PurgeDeadLettersResponse { Purged = await store.PurgeDeadLettersAsync(request.Queue, ids, context.CancellationToken) },
            response => $"{AuditOutcomes.Ok}: {response.Purged} purged");
    }

    public override async Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context)
    {
        if (request.Limit is < 0 or > 1000)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "limit must be 0 (100) to 1000."));
        }

        Func<string, bool> visible;
        if (request.Queue.Length > 0)
        {
            TaskValidation.ValidateQueueName(request.Queue);
            visible = queue => AuditRecord.Queues(queue).Contains(request.Queue, StringComparer.Ordinal);
        }
        else
        {
            visible = AdministeredQueues(context);
        }

        var page = await audit.ListAsync(
            visible, request.Before.Length == 0 ? null : request.Before, request.Limit == 0 ? 100 : request.Limit, context.CancellationToken);
        return new ListAuditEntriesResponse { Entries = { page.Entries.Select(ProtoMapping.ToProto) }, NextBefore = page.NextBefore ?? "" };
    }

    public override async Task<QueueStats> GetQueueStats(GetQueueStatsRequest request, ServerCallContext context) =>
        ProtoMapping.ToProto(await store.GetCountsAsync(request.Queue, context.CancellationToken));

    public override Task<QueueFlow> PauseQueue(PauseQueueRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.PauseQueue, request.Queue, request.Queue,
            async () => ProtoMapping.ToProto(await flow.PauseAsync(request.Queue, CallerIdentity.Of(context), context.CancellationToken)),
            _ => $"{AuditOutcomes.Ok}: paused");

    public override Task<QueueFlow> ResumeQueue(ResumeQueueRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.ResumeQueue, request.Queue, request.Queue,
            async () => ProtoMapping.ToProto(await flow.ResumeAsync(request.Queue, CallerIdentity.Of(context), context.CancellationToken)),
            _ => $"{AuditOutcomes.Ok}: resumed");

    public override Task<QueueFlow> SetQueueLimits(SetQueueLimitsRequest request, ServerCallContext context)
    {
        var limits = ProtoMapping.ToLimits(request.Limits);
        return AuditedAsync(
            context, AuditActions.SetQueueLimits, request.Queue, request.Queue,
            async () => ProtoMapping.ToProto(await flow.SetLimitsAsync(request.Queue, limits, CallerIdentity.Of(context), context.CancellationToken)),
            response => $"{AuditOutcomes.Ok}: {QueueFlowControl.Describe(ProtoMapping.ToLimits(response.Limits))}");
    }

    public override Task<QueueFlow> SetGroupLimits(SetGroupLimitsRequest request, ServerCallContext context)
    {
        var limits = ProtoMapping.ToLimits(request.Limits);
        return AuditedAsync(
            context, AuditActions.SetGroupLimits, request.Queue, "group:" + request.Group,
            async () => ProtoMapping.ToProto(await flow.SetGroupLimitsAsync(request.Queue, request.Group, limits, CallerIdentity.Of(context), context.CancellationToken)),
            response => $"{AuditOutcomes.Ok}: {QueueFlowControl.Describe(ProtoMapping.ToLimits(response.GroupOverrides.GetValueOrDefault(request.Group)))}");
    }

    public override Task<QueueFlow> ClearGroupLimits(ClearGroupLimitsRequest request, ServerCallContext context) =>
        AuditedAsync(
            context, AuditActions.ClearGroupLimits, request.Queue, "group:" + request.Group,
            async () => ProtoMapping.ToProto(await flow.ClearGroupLimitsAsync(request.Queue, request.Group, CallerIdentity.Of(context), context.CancellationToken)),
            _ => $"{AuditOutcomes.Ok}: cleared");

    public override async Task<QueueFlow> GetQueueFlow(GetQueueFlowRequest request, ServerCallContext context) =>
        ProtoMapping.ToProto(await flow.GetAsync(request.Queue, context.CancellationToken));

    public override Task<GetIdentityResponse> GetIdentity(GetIdentityRequest request, ServerCallContext context)
    {
        var user = context.GetHttpContext().User;
        return Task.FromResult(new GetIdentityResponse
        {
            Identity = CallerIdentity.Of(context),
            Scopes = { CallerIdentity.Scopes(user).Select(scope => scope.ToString()) },
        });
    }

    /// <summary>
    /// Drains one worker. The edge lets through admin on some queue (the worker's queues are in Redis); here the caller needs
    /// admin on every queue the worker consumes. Audited under those queues; an unknown worker is NOT_FOUND, changing nothing.
    /// </summary>
    public override async Task<DrainWorkerResponse> DrainWorker(DrainWorkerRequest request, ServerCallContext context)
    {
        if (request.WorkerId.Length is 0 or > WorkerStreamService.MaxWorkerIdLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"worker_id must be 1 to {WorkerStreamService.MaxWorkerIdLength} characters."));
        }

        var queues = "";
        return await AuditedAsync(context, AuditActions.DrainWorker, () => queues, "worker:" + request.WorkerId, DrainAsync, DrainOutcome);

        async Task<DrainWorkerResponse> DrainAsync()
        {
            var worker = await operatorDrain.FindAsync(request.WorkerId, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"Worker {request.WorkerId} is not in the registry."));
            queues = string.Join(",", worker.Queues);
            AuthorizationInterceptor.Demand(logger, context.GetHttpContext().User, new Permission(ScopeActions.Admin, worker.Queues), context.Method);
            var drained = await operatorDrain.DrainAsync(request.WorkerId, context.CancellationToken)
                ?? throw new RpcException(new Status(StatusCode.NotFound, $"Worker {request.WorkerId} is not in the registry."));
            return new DrainWorkerResponse
            {
                Status = WorkerStatuses.Draining,
                Broker = drained.Broker,
                DeliveredHere = drained.DeliveredHere,
                BrokersTold = (int)Math.Min(drained.BrokersTold, int.MaxValue),
            };
        }
    }

    private static string DrainOutcome(DrainWorkerResponse response) =>
        response.DeliveredHere ? $"{AuditOutcomes.Ok}: drained" : $"{AuditOutcomes.Ok}: drain published to {response.BrokersTold} broker(s)";

    public override async Task<ListQueuesResponse> ListQueues(ListQueuesRequest request, ServerCallContext context)
    {
        var scopes = CallerIdentity.Scopes(context.GetHttpContext().User);
        var queues = await store.GetQueuesAsync(context.CancellationToken);
        return new ListQueuesResponse { Queues = { queues.Where(queue => Scopes.Allow(scopes, ScopeActions.Read, [queue])) } };
    }

    /// <summary>The queues whose audit entries a caller who named no queue may read: those it holds admin scope for (all of a worker's).</summary>
    private static Func<string, bool> AdministeredQueues(ServerCallContext context)
    {
        var scopes = CallerIdentity.Scopes(context.GetHttpContext().User);
        return queue => Scopes.Allow(scopes, ScopeActions.Admin, AuditRecord.Queues(queue) is { Length: > 0 } queues ? queues : [queue]);
    }

    /// <summary>
    /// Runs an admin action and records it on the audit trail with its outcome: done, refused or failed, once
    /// the request named its queue (authorisation inside <paramref name="act"/> is recorded too, as "denied").
    /// </summary>
    private Task<TResponse> AuditedAsync<TResponse>(
        ServerCallContext context, string action, string queue, string target, Func<Task<TResponse>> act, Func<TResponse, string> outcome) =>
        AuditedAsync(context, action, () => queue, target, act, outcome);

    /// <summary>As above, for an action whose queue(s) <paramref name="act"/> finds out (a worker's): read once it ended.</summary>
    private async Task<TResponse> AuditedAsync<TResponse>(
        ServerCallContext context, string action, Func<string> queueOf, string target, Func<Task<TResponse>> act, Func<TResponse, string> outcome)
    {
        var identity = CallerIdentity.Of(context);
        TResponse response;
        try
        {
            response = await act();
        }
        catch (Exception ex)
        {
            await audit.RecordAsync(new AuditRecord(identity, action, queueOf(), target, AuditOutcomes.Of(ex, context.CancellationToken)));
            throw;
        }

        await audit.RecordAsync(new AuditRecord(identity, action, queueOf(), target, outcome(response)));
        return response;
    }

    private static string CancelOutcome(CancelTaskResponse response) =>
        response.CancelRequested ? $"{AuditOutcomes.Ok}: cancel requested from its worker" : $"{AuditOutcomes.Ok}: cancelled";

    private async Task<TaskSnapshot> GetExistingAsync(TaskId id, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken)
        ?? throw new RpcException(new Status(StatusCode.NotFound, $"Task {id} does not exist (or its retention ended)."));

    private static List<TaskId> DeadLetterSelection(string queue, IEnumerable<string> taskIds, bool all)
    {
        TaskValidation.ValidateQueueName(queue);
        var ids = taskIds.Select(TaskId.Parse).ToList();
        if (ids.Count == 0 && !all)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Name task_ids, or set all."));
        }

        if (ids.Count > 0 && all)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Name task_ids or set all, not both."));
        }

        if (ids.Any(id => id.Queue != queue))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Every task id must belong to queue '{queue}'."));
        }

        return ids;
    }
}
