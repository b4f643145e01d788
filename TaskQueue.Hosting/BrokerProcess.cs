using System.Globalization;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using TaskQueue.Protocol;

namespace TaskQueue.Hosting;

/// <summary>
/// How one broker runs: <c>dotnet taskqueue-broker/TaskQueue.Broker.dll</c> from the AppHost's output (the
/// TaskQueue.Hosting package puts the broker there), with Kestrel's two endpoints on ports Aspire allocates.
/// </summary>
internal static class BrokerProcess
{
    /// <summary>Where the broker's build output sits beside the AppHost: see buildTransitive/TaskQueue.Hosting.targets.</summary>
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "taskqueue-broker");

    public const string EntryAssembly = "TaskQueue.Broker.dll";

    public static IResourceBuilder<TaskQueueBrokerResource> Add(IResourceBuilder<TaskQueueResource> taskQueue, int ordinal)
    {
        var entry = Path.Combine(Directory, EntryAssembly);
        if (!File.Exists(entry))
        {
            throw new DistributedApplicationException(
                $"The TaskQueue broker is not at {entry}. Reference the TaskQueue.Hosting package from the AppHost project " +
                "(its build copies the broker into the output folder as taskqueue-broker/), then build again.");
        }

        var builder = taskQueue.ApplicationBuilder;
        var broker = new TaskQueueBrokerResource($"{taskQueue.Resource.Name}-broker-{ordinal}", DotnetHost(), Directory, taskQueue.Resource);
        var redis = builder.CreateResourceBuilder(taskQueue.Resource.Redis);
        return builder.AddResource(broker)
            .WithArgs(entry)
            // Two endpoints, as Kestrel reads them: "http" speaks HTTP/1.1 (/health, JSON) and "grpc" HTTP/2 only —
            // one cleartext endpoint cannot serve both, and Aspire's HTTP health check speaks HTTP/1.1.
            .WithHttpEndpoint(name: TaskQueueBrokerResource.HttpEndpointName)
            .WithHttpEndpoint(name: TaskQueueBrokerResource.GrpcEndpointName)
            .WithEndpoint(TaskQueueBrokerResource.GrpcEndpointName, endpoint => endpoint.Transport = "http2")
            .WithEnvironment(async context =>
            {
                Kestrel(context, broker.HttpEndpoint, "Http1");
                Kestrel(context, broker.GrpcEndpoint, "Http2");
                // The broker reads ConnectionStrings:redis whatever the Redis resource is called; the Redis credentials
                // ride in it (password=, user=), and only brokers get them.
                context.EnvironmentVariables["ConnectionStrings__redis"] = new ConnectionStringReference(broker.Parent.Redis, optional: false);
                await ApiKeysAsync(context, broker.Parent);
            })
            .WithConfigurationSection(builder.Configuration, TaskQueueBuilderExtensions.BrokerConfigurationSection)
            .WithOtlpExporter()
            .WithHttpHealthCheck("/health", endpointName: TaskQueueBrokerResource.HttpEndpointName)
            .WithParentRelationship(taskQueue)
            .WithReferenceRelationship(redis)
            .WaitFor(redis)
            .WithIconName("ArrowRouting");
    }

    /// <summary>Points a broker at another Redis: its connection string (read at start) and what it waits for.</summary>
    public static void UseRedis(
        IResourceBuilder<TaskQueueBrokerResource> broker, IResource previous, IResourceBuilder<IResourceWithConnectionString> redis)
    {
        var annotations = broker.Resource.Annotations;
        foreach (var stale in annotations
                     .Where(a => a is WaitAnnotation wait && wait.Resource == previous
                                 || a is ResourceRelationshipAnnotation relationship && relationship.Resource == previous)
                     .ToList())
        {
            annotations.Remove(stale);
        }

        broker.WithReferenceRelationship(redis).WaitFor(redis);
    }

    /// <summary>
    /// Every key the TaskQueue knows, as the broker's configuration takes it: the SHA-256 of the key (computed here, from
    /// the parameter's value, so the key itself never reaches a broker) and its scopes.
    /// </summary>
    private static async Task ApiKeysAsync(EnvironmentCallbackContext context, TaskQueueResource taskQueue)
    {
        foreach (var key in taskQueue.Keys)
        {
            var value = await key.Key.GetValueAsync(context.CancellationToken);
            if (string.IsNullOrEmpty(value))
            {
                throw new DistributedApplicationException($"The API key parameter '{key.Key.Name}' has no value.");
            }

            var prefix = $"TaskQueue__Security__ApiKeys__{key.Name}__";
            context.EnvironmentVariables[prefix + "Sha256"] = ApiKeys.Hash(value);
            for (var i = 0; i < key.Scopes.Count; i++)
            {
                context.EnvironmentVariables[prefix + "Scopes__" + i.ToString(CultureInfo.InvariantCulture)] = key.Scopes[i];
            }
        }
    }

    private static void Kestrel(EnvironmentCallbackContext context, EndpointReference endpoint, string protocols)
    {
        var prefix = $"Kestrel__Endpoints__{endpoint.EndpointName}__";
        context.EnvironmentVariables[prefix + "Url"] = ReferenceExpression.Create(
            $"{endpoint.Property(EndpointProperty.Scheme)}://localhost:{endpoint.Property(EndpointProperty.TargetPort)}");
        context.EnvironmentVariables[prefix + "Protocols"] = protocols;
    }

    /// <summary>The dotnet host this AppHost runs on (DOTNET_HOST_PATH under the dotnet CLI), else dotnet on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
