using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using ProtoSubmitOutcome = TaskQueue.Protocol.V1.SubmitOutcome;
using ProtoTaskState = TaskQueue.Protocol.V1.TaskState;
using SubmitOutcome = TaskQueue.Client.SubmitOutcome;
using TaskState = TaskQueue.Client.TaskState;

namespace TaskQueue.Tests.Client;

/// <summary>The client's unique and debounce fields, the submit outcome it reports, and ListTasksAsync.</summary>
public sealed class ListAndOutcomeClientTests : IAsyncLifetime
{
    private readonly FakeTaskServer _host = new();

    private FakeTaskService Fake => _host.Fake;

    private TaskQueueClient Client => new(_host.Channel);

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Theory]
    [InlineData((int)ProtoSubmitOutcome.Created, false, SubmitOutcome.Created)]
    [InlineData((int)ProtoSubmitOutcome.UniqueExisting, true, SubmitOutcome.UniqueExisting)]
    [InlineData((int)ProtoSubmitOutcome.Debounced, true, SubmitOutcome.Debounced)]
    [InlineData((int)ProtoSubmitOutcome.IdempotentDuplicate, true, SubmitOutcome.IdempotentDuplicate)]
    [InlineData((int)ProtoSubmitOutcome.Unspecified, true, SubmitOutcome.IdempotentDuplicate)]
    [InlineData((int)ProtoSubmitOutcome.Unspecified, false, SubmitOutcome.Created)]
    public async Task Submit_sends_the_keys_and_reports_the_outcome_also_from_an_older_broker(int outcome, bool duplicate, SubmitOutcome expected)
    {
        Fake.OnSubmit = _ => new SubmitResponse { TaskId = "t-1", Duplicate = duplicate, Outcome = (ProtoSubmitOutcome)outcome };

        var result = await Client.SubmitAsync(TaskRequest.FromText("echo", "hi") with
        {
            DebounceKey = "reindex", DebounceWindow = TimeSpan.FromSeconds(3),
        });

        Assert.Equal((expected, duplicate), (result.Outcome, result.Duplicate));
        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal(("", "reindex", TimeSpan.FromSeconds(3)), (spec.UniqueKey, spec.DebounceKey, spec.DebounceWindow.ToTimeSpan()));
    }

    [Fact]
    public async Task ListTasksAsync_sends_the_query_and_returns_the_page_with_its_cursor()
    {
        Fake.OnListTasks = request => new ListTasksResponse
        {
            Tasks = { new TaskInfo { TaskId = "emails:a", Queue = request.Queue, Type = "echo", State = ProtoTaskState.Scheduled, UniqueKey = "u" } },
            NextCursor = request.Cursor == "" ? "next" : "",
        };

        var first = await Client.ListTasksAsync("emails", TaskState.Scheduled, type: "echo", limit: 7, order: TaskListOrder.OldestFirst);
        var last = await Client.ListTasksAsync("emails", TaskState.Scheduled, cursor: first.NextCursor);

        Assert.Equal(("next", null), (first.NextCursor, last.NextCursor));
        Assert.Equal(("emails:a", TaskState.Scheduled, "u"), (first.Tasks[0].TaskId, first.Tasks[0].State, first.Tasks[0].UniqueKey));
        var requests = Fake.Requests.OfType<ListTasksRequest>().ToList();
        Assert.Equal(("emails", ProtoTaskState.Scheduled, "echo", 7, "", ListOrder.OldestFirst), (requests[0].Queue, requests[0].State, requests[0].Type, requests[0].Limit, requests[0].Cursor, requests[0].Order));
        Assert.Equal(("", 100, "next", ListOrder.NewestFirst), (requests[1].Type, requests[1].Limit, requests[1].Cursor, requests[1].Order));
    }

    [Fact]
    public async Task ListTasksAsync_refuses_an_unknown_state_and_a_limit_out_of_range_before_any_call()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Client.ListTasksAsync("emails", TaskState.Unknown));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Client.ListTasksAsync("emails", TaskState.Ready, limit: 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Client.ListTasksAsync("emails", TaskState.Ready, limit: 1001));
        Assert.Empty(Fake.Requests.OfType<ListTasksRequest>());
    }
}
