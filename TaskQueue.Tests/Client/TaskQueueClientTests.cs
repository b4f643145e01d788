using System.Diagnostics;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Worker;
using ProtoTaskState = TaskQueue.Protocol.V1.TaskState;
using TaskState = TaskQueue.Client.TaskState;

namespace TaskQueue.Tests.Client;

public sealed class TaskQueueClientTests : IAsyncLifetime
{
    private readonly FakeTaskServer _host = new();

    private FakeTaskService Fake => _host.Fake;

    private TaskQueueClient Client => new(_host.Channel, new TaskQueueClientOptions { BatchSize = 2 });

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task Submit_maps_every_request_field_and_passes_the_callers_trace_context()
    {
        Fake.OnSubmit = _ => new SubmitResponse { TaskId = "t-42", Duplicate = true };
        var notBefore = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        using var caller = new Activity("caller").SetIdFormat(ActivityIdFormat.W3C).Start();

        var result = await Client.SubmitAsync(TaskRequest.FromText("echo", "hi", "emails") with
        {
            Priority = 7,
            MaxAttempts = 4,
            Delay = TimeSpan.FromSeconds(2),
            NotBefore = notBefore,
            ExecutionTimeout = TimeSpan.FromMinutes(1),
            ExpiresAfter = TimeSpan.FromHours(1),
            IdempotencyKey = "key-1",
        });

        Assert.Equal(new SubmitResult("t-42", Duplicate: true), result);
        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal("emails", spec.Queue);
        Assert.Equal("echo", spec.Type);
        Assert.Equal("hi", spec.Payload.ToStringUtf8());
        Assert.Equal(7, spec.Priority);
        Assert.Equal(4, spec.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(2), spec.Delay.ToTimeSpan());
        Assert.Equal(notBefore, spec.NotBefore.ToDateTimeOffset());
        Assert.Equal(TimeSpan.FromMinutes(1), spec.ExecutionTimeout.ToTimeSpan());
        Assert.Equal(TimeSpan.FromHours(1), spec.ExpiresAfter.ToTimeSpan());
        Assert.Equal("key-1", spec.IdempotencyKey);
        Assert.StartsWith($"00-{caller.TraceId}-", spec.TraceParent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Submit_rejects_an_out_of_range_priority_before_calling_the_broker()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Client.SubmitAsync(new TaskRequest { Type = "echo", Priority = 10 }));

        Assert.Empty(Fake.Requests);
    }

    [Fact]
    public async Task Submit_batch_splits_into_calls_of_the_batch_size_and_keeps_the_order()
    {
        var requests = Enumerable.Range(0, 5).Select(i => TaskRequest.FromText("echo", $"p{i}")).ToArray();

        var results = await Client.SubmitBatchAsync(requests);

        var calls = Fake.Requests.OfType<SubmitBatchRequest>().ToArray();
        Assert.Equal([2, 2, 1], calls.Select(call => call.Tasks.Count));
        Assert.Equal(["p0", "p1", "p2", "p3", "p4"], calls.SelectMany(call => call.Tasks).Select(task => task.Payload.ToStringUtf8()));
        Assert.Equal(5, results.Select(result => result.TaskId).Distinct().Count());
        Assert.All(results.Select((result, i) => (result, i)), pair => Assert.EndsWith($"-{pair.i % 2}", pair.result.TaskId, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Get_maps_every_task_field()
    {
        var created = new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Fake.OnGet = id => new TaskInfo
        {
            TaskId = id,
            Queue = "q",
            Type = "echo",
            State = ProtoTaskState.DeadLettered,
            Attempt = 3,
            MaxAttempts = 3,
            Priority = 5,
            Payload = ByteString.CopyFromUtf8("in"),
            Result = ByteString.CopyFromUtf8("out"),
            LastError = "boom",
            WorkerId = "w-1",
            CancelRequested = true,
            CreatedAt = Timestamp.FromDateTimeOffset(created),
            StartedAt = Timestamp.FromDateTimeOffset(created.AddSeconds(1)),
            FinishedAt = Timestamp.FromDateTimeOffset(created.AddSeconds(2)),
        };

        var task = await Client.GetAsync("t-9");

        Assert.Equal("t-9", task.TaskId);
        Assert.Equal("q", task.Queue);
        Assert.Equal("echo", task.Type);
        Assert.Equal(TaskState.DeadLettered, task.State);
        Assert.True(task.IsFinal);
        Assert.Equal((3, 3, 5), (task.Attempt, task.MaxAttempts, task.Priority));
        Assert.Equal("in", task.PayloadText);
        Assert.Equal("out", task.ResultText);
        Assert.Equal("boom", task.LastError);
        Assert.Equal("w-1", task.WorkerId);
        Assert.True(task.CancelRequested);
        Assert.Equal(created, task.CreatedAt);
        Assert.Equal(created.AddSeconds(1), task.StartedAt);
        Assert.Equal(created.AddSeconds(2), task.FinishedAt);
        Assert.Null(task.DueAt);
    }

    [Fact]
    public async Task Wait_sends_its_timeout_and_cancel_maps_the_resulting_state()
    {
        Fake.OnWait = request => new TaskInfo { TaskId = request.TaskId, State = ProtoTaskState.Leased };
        Fake.OnCancel = _ => new CancelTaskResponse { State = ProtoTaskState.Leased, CancelRequested = true };

        var waited = await Client.WaitAsync("t-5", TimeSpan.FromMilliseconds(300));
        var cancelled = await Client.CancelAsync("t-5");

        var waits = Fake.Requests.OfType<WaitTaskRequest>().ToList();
        Assert.InRange(waits[0].Timeout.ToTimeSpan(), TimeSpan.FromMilliseconds(250), TimeSpan.FromMilliseconds(300));
        Assert.All(waits.Skip(1), w => Assert.True(w.Timeout.ToTimeSpan() < waits[0].Timeout.ToTimeSpan(), "a wait asked again asks only for the time left"));
        Assert.Equal(TaskState.Leased, waited.State);
        Assert.False(waited.IsFinal);
        Assert.Equal(new CancelResult(TaskState.Leased, CancelRequested: true), cancelled);
        Assert.Equal("t-5", Fake.Single<CancelTaskRequest>().TaskId);
    }

    [Fact]
    public async Task Wait_answered_early_and_unfinished_by_a_stopping_broker_asks_again_until_the_task_is_final()
    {
        var answers = 0;
        Fake.OnWait = request => new TaskInfo
        {
            TaskId = request.TaskId,
            State = Interlocked.Increment(ref answers) < 3 ? ProtoTaskState.Ready : ProtoTaskState.Completed,
        };

        var waited = await Client.WaitAsync("t-6", TimeSpan.FromSeconds(30));

        Assert.Equal(TaskState.Completed, waited.State);
        Assert.Equal(3, Fake.Requests.OfType<WaitTaskRequest>().Count());
    }

    [Fact]
    public async Task Wait_rides_out_an_unavailable_broker_while_time_is_left()
    {
        var answers = 0;
        Fake.OnWait = request => Interlocked.Increment(ref answers) == 1
            ? throw new RpcException(new Status(StatusCode.Unavailable, "broker restarting"))
            : new TaskInfo { TaskId = request.TaskId, State = ProtoTaskState.Completed };

        var waited = await Client.WaitAsync("t-7", TimeSpan.FromSeconds(30));

        Assert.Equal(TaskState.Completed, waited.State);
        Assert.Equal(2, answers);
    }

    [Fact]
    public async Task Watch_maps_each_event_and_after_an_unavailable_broker_watches_again_from_a_new_snapshot()
    {
        var calls = 0;
        var progressAt = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Fake.OnWatch = request => Interlocked.Increment(ref calls) == 1 ? FirstWatch(request.TaskId) : SecondWatch(request.TaskId);

        var events = new List<TaskWatchEvent>();
        await foreach (var watched in Client.WatchAsync("t-8"))
        {
            events.Add(watched);
        }

        Assert.Equal(
            [
                (TaskWatchEventKind.Snapshot, TaskState.Leased, (int?)null),
                (TaskWatchEventKind.Progress, TaskState.Leased, 50),
                (TaskWatchEventKind.Snapshot, TaskState.Leased, 60),
                (TaskWatchEventKind.StateChanged, TaskState.Completed, 60),
            ],
            events.Select(e => (e.Kind, e.Task.State, e.Task.ProgressPercent)));
        Assert.Equal(("half", progressAt), (events[1].Task.ProgressMessage, events[1].Task.ProgressAt));
        Assert.Equal(2, Fake.Requests.OfType<WatchTaskRequest>().Count());

        IEnumerable<TaskEvent> FirstWatch(string id)
        {
            yield return new TaskEvent { Kind = TaskEventKind.Snapshot, Task = new TaskInfo { TaskId = id, State = ProtoTaskState.Leased } };
            yield return new TaskEvent
            {
                Kind = TaskEventKind.Progress,
                Task = new TaskInfo { TaskId = id, State = ProtoTaskState.Leased, ProgressPercent = 50, ProgressMessage = "half", ProgressAt = Timestamp.FromDateTimeOffset(progressAt) },
            };
            throw new RpcException(new Status(StatusCode.Unavailable, "The broker is stopping: watch again (on any broker)."));
        }

        IEnumerable<TaskEvent> SecondWatch(string id)
        {
            var at = Timestamp.FromDateTimeOffset(progressAt.AddSeconds(1));
            yield return new TaskEvent { Kind = TaskEventKind.Snapshot, Task = new TaskInfo { TaskId = id, State = ProtoTaskState.Leased, ProgressPercent = 60, ProgressAt = at } };
            yield return new TaskEvent { Kind = TaskEventKind.StateChanged, Task = new TaskInfo { TaskId = id, State = ProtoTaskState.Completed, ProgressPercent = 60, ProgressAt = at } };
            // Never read: the watch ends at the final state.
            yield return new TaskEvent { Kind = TaskEventKind.Progress, Task = new TaskInfo { TaskId = id, State = ProtoTaskState.Completed } };
        }
    }

    [Fact]
    public async Task Queue_stats_and_dead_letter_calls_map_their_fields()
    {
        Fake.OnStats = queue => new QueueStats { Queue = queue, Ready = 1, Scheduled = 2, Leased = 3, DeadLettered = 4, Submitted = 5, Completed = 6, Failed = 7, Retried = 8, Expired = 9, Cancelled = 10 };
        Fake.OnListDeadLetters = request => new ListDeadLettersResponse { Total = 12, Tasks = { new TaskInfo { TaskId = "d-1", Queue = request.Queue, State = ProtoTaskState.DeadLettered } } };

        var stats = await Client.GetQueueStatsAsync("q");
        var page = await Client.ListDeadLettersAsync("q", offset: 10, limit: 5);
        var replayed = await Client.ReplayAllDeadLettersAsync("q");
        var purged = await Client.PurgeDeadLettersAsync("q", ["d-1", "d-2"]);

        Assert.Equal(
            new QueueStatistics { Queue = "q", Ready = 1, Scheduled = 2, Leased = 3, DeadLettered = 4, Submitted = 5, Completed = 6, Failed = 7, Retried = 8, Expired = 9, Cancelled = 10 },
            stats);
        Assert.Equal(6, stats.Pending);
        Assert.Equal(12, page.Total);
        Assert.Equal("d-1", Assert.Single(page.Tasks).TaskId);
        Assert.Equal((10, 5), (Fake.Single<ListDeadLettersRequest>().Offset, Fake.Single<ListDeadLettersRequest>().Limit));
        Assert.Equal(7, replayed);
        Assert.True(Fake.Single<ReplayDeadLettersRequest>().All);
        Assert.Equal(2, purged);
        Assert.Equal(["d-1", "d-2"], Fake.Single<PurgeDeadLettersRequest>().TaskIds);
        Assert.False(Fake.Single<PurgeDeadLettersRequest>().All);
    }

    [Fact]
    public async Task Broker_errors_surface_as_RpcException()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GetAsync("missing"));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task The_DI_registration_resolves_a_client_for_the_configured_broker()
    {
        Fake.OnStats = queue => new QueueStats { Queue = queue, Ready = 3 };
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TaskQueue:BrokerAddress"] = _host.Address.ToString(),
            }).Build())
            .AddLogging()
            .AddTaskQueueClient();
        await using var provider = services.BuildServiceProvider();

        var stats = await provider.GetRequiredService<TaskQueueClient>().GetQueueStatsAsync("q");

        Assert.Equal(3, stats.Ready);
    }
}
