using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker;
using TaskQueue.Worker.Diagnostics;
using TaskQueue.Worker.Handlers;
using TaskQueue.Worker.Handlers.BuiltIn;
using TaskQueue.Worker.Runtime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the TaskQueue worker runtime and task handlers.</summary>
public static class TaskQueueWorkerServiceCollectionExtensions
{
    // Time to flush outcomes and hang up after the drain, on top of Worker:DrainTimeout.
    private static readonly TimeSpan ShutdownMargin = WorkerRuntime.FlushTimeout + WorkerRuntime.CloseTimeout + TimeSpan.FromSeconds(2);

    /// <summary>Adds the worker runtime, configured from the "Worker" section, then <paramref name="configure"/>.</summary>
    public static IHostApplicationBuilder AddTaskQueueWorker(this IHostApplicationBuilder builder, Action<WorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTaskQueueWorker(configure);
        // Request-level logs of the broker client only repeat the connection's own log lines.
        builder.Logging.AddFilter($"System.Net.Http.HttpClient.{BrokerConnection.ClientName}", LogLevel.Warning);
        return builder;
    }

    /// <inheritdoc cref="AddTaskQueueWorker(IHostApplicationBuilder, Action{WorkerOptions}?)"/>
    public static IServiceCollection AddTaskQueueWorker(this IServiceCollection services, Action<WorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        var optionsBuilder = services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.SectionName);
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        optionsBuilder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<WorkerOptions>, WorkerOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<WorkerOptions>, WorkerOptionsValidator>());

        // The host must wait for the drain: its default 30 s would cut it short.
        services.AddOptions<HostOptions>().Configure<IOptions<WorkerOptions>>((host, worker) =>
        {
            var needed = worker.Value.DrainTimeout + ShutdownMargin;
            if (host.ShutdownTimeout < needed)
            {
                host.ShutdownTimeout = needed;
            }
        });

        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddServiceDiscovery();
        services.TryAddSingleton<WorkerMetrics>();
        services.TryAddSingleton<HandlerCatalog>();
        services.TryAddSingleton<OutboundQueue>();
        services.TryAddSingleton<ExecutionLog>();
        services.TryAddSingleton<TaskExecutor>();
        services.TryAddSingleton<ResendBuffer>();
        services.TryAddSingleton<OutboundWriter>();
        services.TryAddSingleton<BrokerSession>();
        services.TryAddSingleton<BrokerConnection>();
        services.AddHostedService<WorkerRuntime>();

        // No standard resilience handler here: its timeouts kill the long-lived Connect stream.
        services
            .AddGrpcClient<WorkerService.WorkerServiceClient>(BrokerConnection.ClientName, (provider, client) =>
                client.Address = provider.GetRequiredService<IOptions<WorkerOptions>>().Value.BrokerAddress)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                EnableMultipleHttp2Connections = true,
                // Pings notice a dead broker (or a silent network drop) within seconds, not at the next write.
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            })
            .AddServiceDiscovery();

        return services;
    }

    /// <summary>Registers a task handler; the worker resolves it from a new scope for every attempt.</summary>
    public static IServiceCollection AddTaskHandler<THandler>(this IServiceCollection services)
        where THandler : class, ITaskHandler
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddScoped<THandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITaskHandlerRegistration, TaskHandlerRegistration<THandler>>());
        return services;
    }

    /// <summary>Registers echo, noop, sleep, cpu, fail and crash.</summary>
    public static IServiceCollection AddBuiltInTaskHandlers(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        return services
            .AddTaskHandler<EchoTaskHandler>()
            .AddTaskHandler<NoopTaskHandler>()
            .AddTaskHandler<SleepTaskHandler>()
            .AddTaskHandler<CpuTaskHandler>()
            .AddTaskHandler<FailTaskHandler>()
            .AddTaskHandler<CrashTaskHandler>();
    }

    /// <inheritdoc cref="AddBuiltInTaskHandlers(IServiceCollection)"/>
    public static IHostApplicationBuilder AddBuiltInTaskHandlers(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddBuiltInTaskHandlers();
        return builder;
    }
}
