namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// One TaskQueue broker process (<c>dotnet TaskQueue.Broker.dll</c>), a child of its <see cref="TaskQueueResource"/>.
/// Brokers are stateless (everything lives in Redis), so any number of them serve the same queues.
/// </summary>
/// <param name="name">The resource name, e.g. <c>taskqueue-broker-1</c>.</param>
/// <param name="command">The dotnet host that runs the broker.</param>
/// <param name="workingDirectory">The directory holding the broker's build output (and its appsettings.json).</param>
/// <param name="parent">The TaskQueue this broker serves.</param>
public sealed class TaskQueueBrokerResource(string name, string command, string workingDirectory, TaskQueueResource parent)
    : ExecutableResource(name, command, workingDirectory), IResourceWithParent<TaskQueueResource>
{
    /// <summary>The HTTP/1.1 endpoint: <c>/health</c>, <c>/metrics</c>, <c>/workers</c>, <c>/dlq</c>.</summary>
    public const string HttpEndpointName = "http";

    /// <summary>The HTTP/2 endpoint clients and workers speak gRPC to.</summary>
    public const string GrpcEndpointName = "grpc";

    private EndpointReference? _httpEndpoint;
    private EndpointReference? _grpcEndpoint;

    /// <summary>The TaskQueue this broker serves.</summary>
    public TaskQueueResource Parent { get; } = parent;

    /// <summary>The HTTP/1.1 endpoint (health, JSON metrics).</summary>
    public EndpointReference HttpEndpoint => _httpEndpoint ??= new EndpointReference(this, HttpEndpointName);

    /// <summary>The gRPC (HTTP/2) endpoint.</summary>
    public EndpointReference GrpcEndpoint => _grpcEndpoint ??= new EndpointReference(this, GrpcEndpointName);
}
