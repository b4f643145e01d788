using Grpc.Net.ClientFactory;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="TaskQueueClient"/>.</summary>
public static class TaskQueueClientServiceCollectionExtensions
{
    private const string ClientName = "TaskQueue.Client.Broker";

    /// <summary>Adds <see cref="TaskQueueClient"/>, configured from the "TaskQueue" section, then <paramref name="configure"/>.</summary>
    public static IHostApplicationBuilder AddTaskQueueClient(this IHostApplicationBuilder builder, Action<TaskQueueClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTaskQueueClient(configure);
        return builder;
    }

    /// <inheritdoc cref="AddTaskQueueClient(IHostApplicationBuilder, Action{TaskQueueClientOptions}?)"/>
    public static IServiceCollection AddTaskQueueClient(this IServiceCollection services, Action<TaskQueueClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<TaskQueueClientOptions>().BindConfiguration(TaskQueueClientOptions.SectionName);
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TaskQueueClientOptions>, TaskQueueClientOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddServiceDiscovery();

        // No standard resilience handler: its per-attempt timeout would cut long server-side waits short.
        services
            .AddGrpcClient<TaskService.TaskServiceClient>(ClientName, (provider, client) =>
                client.Address = provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value.BrokerAddress)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
            })
            .AddServiceDiscovery();

        services.TryAddTransient(provider => new TaskQueueClient(
            provider.GetRequiredService<GrpcClientFactory>().CreateClient<TaskService.TaskServiceClient>(ClientName),
            provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value,
            provider.GetRequiredService<TimeProvider>()));
        return services;
    }
}
