using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TaskQueue.Client;
using TaskQueue.Client.Internal;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="TaskQueueClient"/>.</summary>
public static class TaskQueueClientServiceCollectionExtensions
{
    private const string ClientName = "TaskQueue.Client.Broker";

    /// <summary>
    /// Adds <see cref="TaskQueueClient"/> (transient; its gRPC connections are shared), configured from the
    /// "TaskQueue" section and the "taskqueue" connection string, then <paramref name="configure"/>. The
    /// options are validated on start. Which broker address wins is described on <see cref="TaskQueueClientOptions"/>:
    /// code, then TaskQueue:BrokerAddress, then ConnectionStrings:taskqueue, then service discovery.
    /// </summary>
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
        var optionsBuilder = services.AddOptions<TaskQueueClientOptions>()
            .Configure<IServiceProvider>((options, provider) =>
            {
                if (provider.GetService<IConfiguration>() is { } configuration)
                {
                    ClientConfiguration.Apply(options, configuration);
                }
            });
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
                client.Address = BrokerChannel.Address(provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value.BrokerAddresses))
            .ConfigureChannel((provider, channel) =>
            {
                var options = provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value;
                BrokerChannel.Configure(channel, options.BrokerAddresses, provider, BrokerChannel.Credentials(options), options.Tls);
            })
            .ConfigurePrimaryHttpMessageHandler(provider =>
                BrokerChannel.CreateHandler(provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value.Tls))
            // Every call carries the credential (a handler, so it works over plaintext HTTP/2 too).
            .AddHttpMessageHandler(provider => new BearerTokenHandler(
                BrokerChannel.Credentials(provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value)))
            .AddServiceDiscovery();

        services.TryAddTransient(provider => new TaskQueueClient(
            provider.GetRequiredService<GrpcClientFactory>().CreateClient<TaskService.TaskServiceClient>(ClientName),
            provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value,
            provider.GetRequiredService<TimeProvider>()));
        return services;
    }
}
