using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Worker;
using ProtoTaskState = TaskQueue.Protocol.V1.TaskState;
using TaskState = TaskQueue.Client.TaskState;

namespace TaskQueue.Tests.Client;

public sealed class TypedClientTests : IAsyncLifetime
{
    private readonly FakeTaskServer _host = new();

    private FakeTaskService Fake => _host.Fake;

    private TaskQueueClient Client => new(_host.Channel);

    public Task InitializeAsync() => _host.InitializeAsync();

    public Task DisposeAsync() => _host.DisposeAsync();

    [Fact]
    public async Task A_typed_submit_sends_the_payload_as_web_json_with_the_type_and_queue_given()
    {
        Fake.OnSubmit = _ => new SubmitResponse { TaskId = "t-7" };

        var submitted = await Client.SubmitAsync("resize-image", new ResizeRequest("cat.png", 64), queue: "images");

        Assert.Equal(new SubmitResult("t-7", Duplicate: false), submitted);
        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal(("images", "resize-image"), (spec.Queue, spec.Type));
        Assert.Equal("""{"imageUrl":"cat.png","width":64}""", spec.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task A_typed_submit_without_a_queue_goes_to_the_default_queue()
    {
        await Client.SubmitAsync("resize-image", new ResizeRequest("cat.png", 64), CancellationToken.None);

        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal((TaskRequest.DefaultQueue, "resize-image"), (spec.Queue, spec.Type));
        Assert.Equal("""{"imageUrl":"cat.png","width":64}""", spec.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task A_typed_submit_with_a_source_generated_type_info_uses_its_contract()
    {
        await Client.SubmitAsync("resize-image", new ResizeRequest("cat.png", 64), ImageJsonContext.Default.ResizeRequest);

        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal(TaskRequest.DefaultQueue, spec.Queue);
        Assert.Equal("""{"image_url":"cat.png","width":64}""", spec.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task A_typed_wait_for_a_completed_task_reads_its_result_from_json()
    {
        Fake.OnWait = request => Info(request.TaskId, ProtoTaskState.Completed, result: """{"thumbnailUrl":"cat.png@64","width":64}""");

        var done = await Client.WaitAsync<ResizeResult>("t-1", TimeSpan.FromSeconds(5), CancellationToken.None);

        Assert.Equal(new TaskResult<ResizeResult>("t-1", TaskState.Completed, new ResizeResult("cat.png@64", 64), Error: null), done);
        Assert.True(done.IsCompleted);
        Assert.Equal("t-1", Fake.Single<WaitTaskRequest>().TaskId);
    }

    [Fact]
    public async Task A_typed_wait_with_a_source_generated_type_info_uses_its_contract()
    {
        Fake.OnWait = request => Info(request.TaskId, ProtoTaskState.Completed, result: """{"thumbnail_url":"cat.png@8","width":8}""");

        var done = await Client.WaitAsync("t-1", TimeSpan.FromSeconds(5), ImageJsonContext.Default.ResizeResult);

        Assert.Equal(new ResizeResult("cat.png@8", 8), done.Result);
    }

    [Fact]
    public async Task A_typed_wait_for_a_dead_lettered_task_returns_its_error_and_no_result()
    {
        Fake.OnWait = request => Info(request.TaskId, ProtoTaskState.DeadLettered, result: "", lastError: "The payload is not valid JSON for ResizeRequest");

        var done = await Client.WaitAsync<ResizeResult>("t-1", TimeSpan.FromSeconds(5));

        Assert.Equal(new TaskResult<ResizeResult>("t-1", TaskState.DeadLettered, null, "The payload is not valid JSON for ResizeRequest"), done);
        Assert.True(done.IsFinal);
        Assert.False(done.IsCompleted);
    }

    [Fact]
    public async Task A_typed_wait_that_ends_before_the_task_does_returns_its_state_and_no_result()
    {
        Fake.OnWait = request => Info(request.TaskId, ProtoTaskState.Leased, result: "", lastError: "attempt 1 failed");

        var pending = await Client.WaitAsync<ResizeResult>("t-1", TimeSpan.Zero);

        Assert.Equal(new TaskResult<ResizeResult>("t-1", TaskState.Leased, null, "attempt 1 failed"), pending);
        Assert.False(pending.IsFinal);
    }

    [Fact]
    public async Task A_typed_wait_for_a_result_that_is_not_json_for_the_type_says_which_task_and_type()
    {
        Fake.OnWait = request => Info(request.TaskId, ProtoTaskState.Completed, result: "slept 10 ms");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Client.WaitAsync<ResizeResult>("t-1", TimeSpan.FromSeconds(5)));

        Assert.Contains("t-1", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ResizeResult), error.Message, StringComparison.Ordinal);
    }

    private static TaskInfo Info(string taskId, ProtoTaskState state, string result, string lastError = "") => new()
    {
        TaskId = taskId,
        Queue = "images",
        Type = "resize-image",
        State = state,
        Result = ByteString.CopyFromUtf8(result),
        LastError = lastError,
    };
}
