using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Handlers;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

public sealed class TypedTaskHandlerTests(ITestOutputHelper output)
{
    private const string Secret = "s3cr3t";

    [Fact]
    public async Task A_typed_handler_reads_its_payload_and_writes_its_result_as_web_json()
    {
        var handler = new ResizeTaskHandler();
        var adapter = Adapter(handler, Web<ResizeRequest>(), Web<ResizeResult>());

        var result = await adapter.HandleAsync(Context("""{"imageUrl":"cat.png","width":64}"""), CancellationToken.None);

        Assert.Equal("resize-image", adapter.TaskType);
        Assert.Equal(new ResizeRequest("cat.png", 64), handler.Received.Single());
        Assert.Equal("""{"thumbnailUrl":"cat.png@64","width":64}""", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task A_source_generated_context_reads_the_payload_and_writes_the_result_with_its_own_settings()
    {
        var handler = new ResizeTaskHandler();
        var adapter = Adapter(handler, ImageJsonContext.Default.ResizeRequest, ImageJsonContext.Default.ResizeResult);

        var result = await adapter.HandleAsync(Context("""{"image_url":"cat.png","width":32}"""), CancellationToken.None);

        Assert.Equal(new ResizeRequest("cat.png", 32), handler.Received.Single());
        Assert.Equal("""{"thumbnail_url":"cat.png@32","width":32}""", Encoding.UTF8.GetString(result.Span));
    }

    [Theory]
    [InlineData("{not json " + Secret)]
    [InlineData("""{"imageUrl":"s3cr3t","width":"wide"}""")]
    [InlineData("\"" + Secret + "\"")]
    public async Task A_payload_that_is_not_json_for_the_type_fails_for_good_without_running_the_handler_or_quoting_the_payload(string payload)
    {
        var handler = new ResizeTaskHandler();
        var adapter = Adapter(handler, Web<ResizeRequest>(), Web<ResizeResult>());

        var error = await Assert.ThrowsAsync<NonRetryableTaskException>(() => adapter.HandleAsync(Context(payload), CancellationToken.None));

        Assert.StartsWith("The payload is not valid JSON for ResizeRequest", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
        Assert.Empty(handler.Received);
    }

    [Theory]
    [InlineData("", "an empty payload")]
    [InlineData("null", "a null payload")]
    public async Task An_empty_or_null_payload_fails_for_good_without_running_the_handler(string payload, string says)
    {
        var handler = new ResizeTaskHandler();
        var adapter = Adapter(handler, Web<ResizeRequest>(), Web<ResizeResult>());

        var error = await Assert.ThrowsAsync<NonRetryableTaskException>(() => adapter.HandleAsync(Context(payload), CancellationToken.None));

        Assert.Contains(says, error.Message, StringComparison.Ordinal);
        Assert.Empty(handler.Received);
    }

    [Fact]
    public void PayloadAs_reads_json_and_turns_malformed_json_into_a_non_retryable_failure_that_does_not_quote_it()
    {
        var order = Context("""{"imageUrl":"box.png","width":7}""").PayloadAs<ResizeRequest>();

        Assert.Equal(new ResizeRequest("box.png", 7), order);
        var error = Assert.Throws<NonRetryableTaskException>(() => Context("{not json " + Secret).PayloadAs<ResizeRequest>());
        Assert.DoesNotContain(Secret, error.ToString(), StringComparison.Ordinal);
        Assert.Null(Context("").PayloadAs<ResizeRequest>());
    }

    [Fact]
    public async Task AddTaskHandler_of_a_typed_handler_alone_registers_it_with_web_json()
    {
        var services = new ServiceCollection();

        services.AddTaskHandler<ResizeTaskHandler>();
        var adapter = Registered(services);
        var result = await adapter.HandleAsync(Context("""{"imageUrl":"cat.png","width":16}"""), CancellationToken.None);

        Assert.Equal("""{"thumbnailUrl":"cat.png@16","width":16}""", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public void AddTaskHandler_of_a_class_that_is_no_handler_fails_at_registration()
    {
        var error = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddTaskHandler<ResizeRequestHolder>());

        Assert.Contains("ITaskHandler", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_json_context_without_the_result_type_fails_at_registration()
    {
        var services = new ServiceCollection();

        var error = Assert.Throws<InvalidOperationException>(
            () => services.AddTaskHandler<ResizeTaskHandler, ResizeRequest, ResizeResult>(PayloadOnlyJsonContext.Default));

        Assert.Contains(nameof(ResizeResult), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_typed_handler_registered_with_the_worker_completes_its_tasks_and_fails_a_bad_payload_for_good()
    {
        await using var worker = await WorkerHarness.StartAsync(output, services: services => services
            .AddTaskHandler<ResizeTaskHandler, ResizeRequest, ResizeResult>(ImageJsonContext.Default));

        await worker.Session.AssignAsync("t-typed", "resize-image", """{"image_url":"dog.png","width":128}""");
        await worker.Session.AssignAsync("t-bad", "resize-image", """{"image_url":"s3cr3t","width":[]}""");
        var completed = await worker.Session.WaitForOutcomeAsync("t-typed");
        var failed = await worker.Session.WaitForOutcomeAsync("t-bad");

        Assert.Contains("resize-image", worker.Session.Hello.TaskTypes);
        Assert.Equal(WorkerMessage.KindOneofCase.Completed, completed.KindCase);
        Assert.Equal("""{"thumbnail_url":"dog.png@128","width":128}""", completed.Completed.Result.ToStringUtf8());
        Assert.Equal(WorkerMessage.KindOneofCase.Failed, failed.KindCase);
        Assert.False(failed.Failed.Retryable);
        Assert.Contains("not valid JSON for ResizeRequest", failed.Failed.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, failed.Failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_broker_stream_leaves_out_handlers_that_a_services_http_client_defaults_add_to_every_client()
    {
        // What a service's own ServiceDefaults does with AddStandardResilienceHandler (its timeouts end the
        // long-lived Connect stream); this stand-in fails every request it sees, so it must not be in the way.
        await using var worker = await WorkerHarness.StartAsync(output, services: services =>
            services.ConfigureHttpClientDefaults(http => http.AddHttpMessageHandler(() => new RefusingHandler())));

        await worker.Session.AssignAsync("t-echo", "echo", "still here");
        var outcome = await worker.Session.WaitForOutcomeAsync("t-echo");

        Assert.Equal("still here", outcome.Completed.Result.ToStringUtf8());
    }

    /// <summary>The handler as the worker runs it: registered, then resolved as an <see cref="ITaskHandler"/> from a scope.</summary>
    private static ITaskHandler Adapter(ResizeTaskHandler handler, JsonTypeInfo<ResizeRequest> payload, JsonTypeInfo<ResizeResult> result)
    {
        var services = new ServiceCollection().AddSingleton(handler);
        services.AddTaskHandler<ResizeTaskHandler, ResizeRequest, ResizeResult>(payload, result);
        return Registered(services);
    }

    private static ITaskHandler Registered(IServiceCollection services)
    {
        var adapter = services.Single(descriptor => descriptor.ServiceType != typeof(ResizeTaskHandler) && descriptor.ServiceType.IsAssignableTo(typeof(ITaskHandler)));
        return (ITaskHandler)services.BuildServiceProvider().CreateScope().ServiceProvider.GetRequiredService(adapter.ServiceType);
    }

    private sealed class ResizeRequestHolder;

    private static JsonTypeInfo<T> Web<T>() => (JsonTypeInfo<T>)JsonSerializerOptions.Web.GetTypeInfo(typeof(T));

    private static TaskContext Context(string payload) =>
        new("task-1", "default", "resize-image", Encoding.UTF8.GetBytes(payload), attempt: 1, maxAttempts: 3);

    private sealed class RefusingHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new HttpRequestException("refused by a handler from the service's HTTP client defaults");
    }
}

internal sealed record ResizeRequest(string ImageUrl, int Width);

internal sealed record ResizeResult(string ThumbnailUrl, int Width);

/// <summary>"resize-image": a team's typed handler; pretends to make a thumbnail.</summary>
internal sealed class ResizeTaskHandler : ITaskHandler<ResizeRequest, ResizeResult>
{
    public List<ResizeRequest> Received { get; } = [];

    public string TaskType => "resize-image";

    public Task<ResizeResult> HandleAsync(ResizeRequest payload, TaskContext context, CancellationToken cancellationToken)
    {
        Received.Add(payload);
        return Task.FromResult(new ResizeResult($"{payload.ImageUrl}@{payload.Width}", payload.Width));
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ResizeRequest))]
[JsonSerializable(typeof(ResizeResult))]
internal sealed partial class ImageJsonContext : JsonSerializerContext;

[JsonSerializable(typeof(ResizeRequest))]
internal sealed partial class PayloadOnlyJsonContext : JsonSerializerContext;
