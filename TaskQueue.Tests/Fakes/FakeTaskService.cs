using System.Collections.Concurrent;
using Grpc.Core;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Tests.Fakes;

/// <summary>A hand-written TaskService: records every request and answers with what the test set up.</summary>
internal sealed class FakeTaskService
{
    public ConcurrentQueue<object> Requests { get; } = new();

    public Func<SubmitRequest, SubmitResponse> OnSubmit { get; set; } = _ => new SubmitResponse { TaskId = "t-1" };

    public Func<SubmitBatchRequest, SubmitBatchResponse> OnSubmitBatch { get; set; } = request =>
        new SubmitBatchResponse { Results = { request.Tasks.Select((_, i) => new SubmitResponse { TaskId = $"b-{Guid.NewGuid():N}-{i}" }) } };

    public Func<string, TaskInfo> OnGet { get; set; } = id => throw new RpcException(new Status(StatusCode.NotFound, $"task {id} not found"));

    public Func<WaitTaskRequest, TaskInfo> OnWait { get; set; } = request => new TaskInfo { TaskId = request.TaskId, State = TaskState.Completed };

    public Func<string, CancelTaskResponse> OnCancel { get; set; } = _ => new CancelTaskResponse { State = TaskState.Cancelled };

    public Func<ListDeadLettersRequest, ListDeadLettersResponse> OnListDeadLetters { get; set; } = _ => new ListDeadLettersResponse();

    public Func<string, QueueStats> OnStats { get; set; } = queue => new QueueStats { Queue = queue };

    public Func<ListAuditEntriesRequest, ListAuditEntriesResponse> OnListAuditEntries { get; set; } = _ => new ListAuditEntriesResponse();

    /// <summary>The events of one Watch call, written in order; an exception thrown while enumerating ends the call with it.</summary>
    public Func<WatchTaskRequest, IEnumerable<TaskEvent>> OnWatch { get; set; } = request =>
        [new TaskEvent { Kind = TaskEventKind.Snapshot, Task = new TaskInfo { TaskId = request.TaskId, State = TaskState.Completed } }];

    public Func<ListTasksRequest, ListTasksResponse> OnListTasks { get; set; } = _ => new ListTasksResponse();

    public Func<UpsertScheduleRequest, UpsertScheduleResponse> OnUpsertSchedule { get; set; } =
        request => new UpsertScheduleResponse { Schedule = new ScheduleInfo { Spec = request.Schedule }, Created = true };

    public Func<ListSchedulesRequest, ListSchedulesResponse> OnListSchedules { get; set; } = _ => new ListSchedulesResponse();

    public Func<GetScheduleRequest, ScheduleInfo> OnGetSchedule { get; set; } =
        request => throw new RpcException(new Status(StatusCode.NotFound, $"no schedule {request.Name}"));

    /// <summary>The Authorization header of every call, in order (null when a call had none).</summary>
    public ConcurrentQueue<string?> Authorizations { get; } = new();

    public T Single<T>() => Requests.OfType<T>().Single();

    /// <summary>The gRPC service the server hosts; forwards every call to the fake.</summary>
    internal sealed class Endpoint(FakeTaskService fake) : TaskService.TaskServiceBase
    {
        public override Task<SubmitResponse> Submit(SubmitRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnSubmit);

        public override Task<SubmitBatchResponse> SubmitBatch(SubmitBatchRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnSubmitBatch);

        public override Task<TaskInfo> Get(GetTaskRequest request, ServerCallContext context) =>
            Answer(request, context, r => fake.OnGet(r.TaskId));

        public override Task<TaskInfo> Wait(WaitTaskRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnWait);

        public override Task<CancelTaskResponse> Cancel(CancelTaskRequest request, ServerCallContext context) =>
            Answer(request, context, r => fake.OnCancel(r.TaskId));

        public override Task<ListDeadLettersResponse> ListDeadLetters(ListDeadLettersRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnListDeadLetters);

        public override Task<ReplayDeadLettersResponse> ReplayDeadLetters(ReplayDeadLettersRequest request, ServerCallContext context) =>
            Answer(request, context, r => new ReplayDeadLettersResponse { Replayed = r.All ? 7 : r.TaskIds.Count });

        public override Task<PurgeDeadLettersResponse> PurgeDeadLetters(PurgeDeadLettersRequest request, ServerCallContext context) =>
            Answer(request, context, r => new PurgeDeadLettersResponse { Purged = r.All ? 7 : r.TaskIds.Count });

        public override Task<QueueStats> GetQueueStats(GetQueueStatsRequest request, ServerCallContext context) =>
            Answer(request, context, r => fake.OnStats(r.Queue));

        public override Task<ListTasksResponse> ListTasks(ListTasksRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnListTasks);

        public override Task<ListAuditEntriesResponse> ListAuditEntries(ListAuditEntriesRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnListAuditEntries);

        public override async Task Watch(WatchTaskRequest request, IServerStreamWriter<TaskEvent> responseStream, ServerCallContext context)
        {
            fake.Authorizations.Enqueue(context.RequestHeaders.GetValue("authorization"));
            fake.Requests.Enqueue(request);
            foreach (var watched in fake.OnWatch(request))
            {
                await responseStream.WriteAsync(watched, context.CancellationToken);
            }
        }

        public override Task<UpsertScheduleResponse> UpsertSchedule(UpsertScheduleRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnUpsertSchedule);

        public override Task<ListSchedulesResponse> ListSchedules(ListSchedulesRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnListSchedules);

        public override Task<ScheduleInfo> GetSchedule(GetScheduleRequest request, ServerCallContext context) =>
            Answer(request, context, fake.OnGetSchedule);

        private Task<TResponse> Answer<TRequest, TResponse>(TRequest request, ServerCallContext context, Func<TRequest, TResponse> answer)
            where TRequest : class
        {
            fake.Authorizations.Enqueue(context.RequestHeaders.GetValue("authorization"));
            fake.Requests.Enqueue(request);
            return Task.FromResult(answer(request));
        }
    }
}
