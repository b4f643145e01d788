using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker;
using TaskQueue.Worker.Diagnostics;
using TaskQueue.Worker.Extensions;
using TaskQueue.Worker.Handlers;
using TaskQueue.Worker.Runtime;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the TaskQueue worker runtime and task handlers: <c>builder.AddTaskQueueWorker()</c>, then
/// <c>services.AddTaskHandler&lt;T&gt;()</c> for each handler.
/// </summary>
public static class TaskQueueWorkerServiceCollectionExtensions
{
    // Time to flush outcomes and hang up after the drain, on top of Worker:DrainTimeout.
    private static readonly TimeSpan ShutdownMargin = WorkerRuntime.FlushTimeout + BrokerSession.CloseTimeout + TimeSpan.FromSeconds(2);

    // AddTaskHandler<THandler, TPayload, TResult>(services, options), for AddTaskHandler<THandler>() of a typed handler.
    private static readonly System.Reflection.MethodInfo s_addTyped = typeof(TaskQueueWorkerServiceCollectionExtensions).GetMethods()
        .Single(method => method.Name == nameof(AddTaskHandler) && method.GetGenericArguments().Length == 3
            && method.GetParameters() is [_, { ParameterType: var options }] && options == typeof(JsonSerializerOptions));

    /// <summary>
    /// Adds the worker runtime, configured from the "Worker" section, then <paramref name="configure"/>: a hosted
    /// service that connects to the broker, runs the registered handlers and drains on shutdown. The broker is
    /// <c>Worker:BrokerAddress</c>, else the AppHost's <c>ConnectionStrings:taskqueue</c>, else the Aspire
    /// service-discovery name of the broker's "grpc" endpoint (see <see cref="WorkerOptions"/>). Options are
    /// validated when the host starts.
    /// </summary>
    /// <param name="builder">The host builder.</param>
    /// <param name="configure">Changes applied after the configuration is bound; null for none.</param>
    public static IHostApplicationBuilder AddTaskQueueWorker(this IHostApplicationBuilder builder, Action<WorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddTaskQueueWorker(configure);
        // Request-level logs of the broker client only repeat the connection's own log lines.
        builder.Logging.AddFilter($"System.Net.Http.HttpClient.{BrokerConnection.ClientName}", LogLevel.Warning);
        return builder;
    }

    /// <summary>
    /// Adds the worker runtime to a service collection, configured from the "Worker" section, then
    /// <paramref name="configure"/>. Prefer the <see cref="IHostApplicationBuilder"/> overload, which also quiets
    /// the broker client's request logs.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Changes applied after the configuration is bound; null for none.</param>
    public static IServiceCollection AddTaskQueueWorker(this IServiceCollection services, Action<WorkerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);

        // In order of precedence, lowest first: the connection string an AppHost hands over (and the client's
        // "TaskQueue:Tls" settings), the "Worker" section, code. (The defaults are the options' own.)
        var optionsBuilder = services.AddOptions<WorkerOptions>()
            .Configure<IServiceProvider>((options, provider) =>
            {
                var configuration = provider.GetService<IConfiguration>();
                var connectionString = configuration?.GetConnectionString(WorkerOptions.ConnectionStringName);
                if (WorkerBrokerChannel.FromConnectionString(connectionString) is { Count: > 0 } brokers)
                {
                    options.BrokerAddresses = brokers;
                }

                // The key every TaskQueue caller reads; Worker:ApiKey (bound next) wins over it.
                if (configuration?[ApiKeys.ConfigurationKey] is { Length: > 0 } apiKey)
                {
                    options.ApiKey = apiKey;
                }

                if (configuration is not null)
                {
                    WorkerBrokerChannel.ReadTls(options.Tls, configuration.GetSection(WorkerBrokerChannel.SharedTlsSection));
                }
            })
            .BindConfiguration(WorkerOptions.SectionName);
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        optionsBuilder
            .Validate(
                options => options.BrokerAddresses is { Count: > 0 } brokers
                    && brokers.All(broker => broker is { IsAbsoluteUri: true } && broker.Scheme == brokers[0].Scheme),
                "Worker:BrokerAddresses must list at least one absolute address, all with the same scheme.")
            .ValidateOnStart();
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
        services.TryAddSingleton<OperatorDrain>();
        services.TryAddSingleton<ResendBuffer>();
        services.TryAddSingleton<OutboundWriter>();
        services.TryAddSingleton<BrokerSession>();
        services.TryAddSingleton<BrokerConnection>();
        services.AddHostedService<WorkerRuntime>();

        // No standard resilience handler here: its timeouts and retries kill the long-lived Connect stream. A
        // service's own defaults (ConfigureHttpClientDefaults, run before this) may add one to every client:
        // this client drops whatever handlers they added, then adds service discovery back.
        services
            .AddGrpcClient<WorkerService.WorkerServiceClient>(BrokerConnection.ClientName, (provider, client) =>
                client.Address = WorkerBrokerChannel.Address(provider.GetRequiredService<IOptions<WorkerOptions>>().Value.BrokerAddresses))
            .ConfigureChannel((provider, channel) =>
            {
                var options = provider.GetRequiredService<IOptions<WorkerOptions>>().Value;
                WorkerBrokerChannel.Configure(channel, options.BrokerAddresses, provider, WorkerBrokerChannel.Credentials(options), options.Tls);
            })
            .ConfigureAdditionalHttpMessageHandlers((handlers, _) => handlers.Clear())
            .ConfigurePrimaryHttpMessageHandler(provider =>
                WorkerBrokerChannel.CreateHandler(provider.GetRequiredService<IOptions<WorkerOptions>>().Value.Tls))
            // The stream carries the credential (a handler, so it works over plaintext HTTP/2 too); added after the clear.
            .AddHttpMessageHandler(provider => new BearerTokenHandler(
                WorkerBrokerChannel.Credentials(provider.GetRequiredService<IOptions<WorkerOptions>>().Value)))
            .AddServiceDiscovery();

        return services;
    }

    /// <summary>
    /// Registers a task handler: an <see cref="ITaskHandler"/>, or an <see cref="ITaskHandler{TPayload, TResult}"/>
    /// with JSON web defaults (as <see cref="AddTaskHandler{THandler, TPayload, TResult}(IServiceCollection, JsonSerializerOptions?)"/>).
    /// The worker resolves it from a new scope for every attempt; its <c>TaskType</c> names the tasks it runs.
    /// Registering the same class twice is a no-op.
    /// </summary>
    /// <typeparam name="THandler">The handler class; it implements exactly one of the two handler interfaces.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <exception cref="ArgumentException"><typeparamref name="THandler"/> is not a task handler, or implements several.</exception>
    public static IServiceCollection AddTaskHandler<THandler>(this IServiceCollection services)
        where THandler : class
    {
        ArgumentNullException.ThrowIfNull(services);
        var handler = typeof(THandler);
        var typed = handler.GetInterfaces().Where(type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ITaskHandler<,>)).ToArray();
        var untyped = typeof(ITaskHandler).IsAssignableFrom(handler);
        switch (typed.Length, untyped)
        {
            case (0, true):
                services.TryAddScoped<THandler>();
                services.TryAddEnumerable(ServiceDescriptor.Singleton(typeof(ITaskHandlerRegistration), typeof(TaskHandlerRegistration<>).MakeGenericType(handler)));
                return services;
            case (1, false):
                var arguments = typed[0].GetGenericArguments();
                s_addTyped.MakeGenericMethod(handler, arguments[0], arguments[1]).Invoke(null, [services, null]);
                return services;
            default:
                throw new ArgumentException(
                    $"{handler} must implement exactly one of ITaskHandler and ITaskHandler<TPayload, TResult>; for one of several, use AddTaskHandler<THandler, TPayload, TResult>().",
                    nameof(THandler));
        }
    }

    /// <summary>
    /// Registers a typed task handler: its payload is read as JSON into <typeparamref name="TPayload"/> and its
    /// result written as JSON, with <paramref name="options"/> (null: <see cref="JsonSerializerOptions.Web"/>,
    /// the defaults of the client's <c>SubmitAsync&lt;TPayload&gt;</c> and <c>WaitAsync&lt;TResult&gt;</c>).
    /// The handler's <see cref="ITaskHandler{TPayload, TResult}.TaskType"/> names the tasks it runs; it is
    /// resolved from a new scope for every attempt. Registering the same class twice is a no-op.
    /// </summary>
    /// <typeparam name="THandler">The handler class.</typeparam>
    /// <typeparam name="TPayload">The payload type the handler takes.</typeparam>
    /// <typeparam name="TResult">The result type the handler returns.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="options">JSON settings for payload and result; null for web defaults (camelCase, case-insensitive).</param>
    public static IServiceCollection AddTaskHandler<THandler, TPayload, TResult>(this IServiceCollection services, JsonSerializerOptions? options = null)
        where THandler : class, ITaskHandler<TPayload, TResult>
    {
        ArgumentNullException.ThrowIfNull(services);
        var json = options ?? JsonSerializerOptions.Web;
        return services.AddTaskHandler<THandler, TPayload, TResult>(TaskJson.TypeInfo<TPayload>(json), TaskJson.TypeInfo<TResult>(json));
    }

    /// <summary>
    /// Registers a typed task handler whose payload and result are (de)serialised by a source-generated JSON
    /// context, for trimmed and AOT-compiled services. The context must declare both types
    /// (<c>[JsonSerializable(typeof(TPayload))]</c>, <c>[JsonSerializable(typeof(TResult))]</c>); a missing one
    /// throws here, at registration. Otherwise as <see cref="AddTaskHandler{THandler, TPayload, TResult}(IServiceCollection, JsonSerializerOptions?)"/>.
    /// </summary>
    /// <typeparam name="THandler">The handler class.</typeparam>
    /// <typeparam name="TPayload">The payload type the handler takes.</typeparam>
    /// <typeparam name="TResult">The result type the handler returns.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="jsonContext">The source-generated context, for example <c>ImageJsonContext.Default</c>.</param>
    public static IServiceCollection AddTaskHandler<THandler, TPayload, TResult>(this IServiceCollection services, JsonSerializerContext jsonContext)
        where THandler : class, ITaskHandler<TPayload, TResult>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(jsonContext);
        return services.AddTaskHandler<THandler, TPayload, TResult>(
            TaskJson.TypeInfo<TPayload>(jsonContext, jsonContext.Options),
            TaskJson.TypeInfo<TResult>(jsonContext, jsonContext.Options));
    }

    /// <summary>
    /// Registers a typed task handler with the JSON contracts of its payload and result given directly.
    /// Otherwise as <see cref="AddTaskHandler{THandler, TPayload, TResult}(IServiceCollection, JsonSerializerOptions?)"/>.
    /// </summary>
    /// <typeparam name="THandler">The handler class.</typeparam>
    /// <typeparam name="TPayload">The payload type the handler takes.</typeparam>
    /// <typeparam name="TResult">The result type the handler returns.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="payloadType">The payload's JSON contract, for example <c>ImageJsonContext.Default.ResizeRequest</c>.</param>
    /// <param name="resultType">The result's JSON contract.</param>
    public static IServiceCollection AddTaskHandler<THandler, TPayload, TResult>(
        this IServiceCollection services, JsonTypeInfo<TPayload> payloadType, JsonTypeInfo<TResult> resultType)
        where THandler : class, ITaskHandler<TPayload, TResult>
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(payloadType);
        ArgumentNullException.ThrowIfNull(resultType);
        services.TryAddScoped<THandler>();
        services.TryAddScoped(provider =>
            new TypedTaskHandlerAdapter<THandler, TPayload, TResult>(provider.GetRequiredService<THandler>(), payloadType, resultType));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITaskHandlerRegistration, TaskHandlerRegistration<TypedTaskHandlerAdapter<THandler, TPayload, TResult>>>());
        return services;
    }
}
