using Microsoft.AspNetCore.Server.Kestrel.Core;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Explain;
using TaskQueue.Broker.Flow;
using TaskQueue.Broker.Grpc;
using TaskQueue.Broker.Http;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Progress;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Listing;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Security.Tls;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Extensions;

public static class BrokerExtensions
{
    /// <summary>The Redis connection string name ("ConnectionStrings:redis"), as the AppHost references it.</summary>
    public const string RedisConnectionName = "redis";

    public static WebApplicationBuilder AddTaskQueueBroker(this WebApplicationBuilder builder)
    {
        // The two named endpoints speak one protocol each, wherever their URLs come from (appsettings,
        // the AppHost, compose): cleartext HTTP/2 for gRPC, HTTP/1.1 for health checks and JSON.
        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            kestrel.Configure(context.Configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("grpc", endpoint => endpoint.ListenOptions.Protocols = HttpProtocols.Http2)
                .Endpoint("http", endpoint => endpoint.ListenOptions.Protocols = HttpProtocols.Http1);
            // Room for an oversized bearer token to reach authentication and be refused there (UNAUTHENTICATED,
            // 401), not as a transport error the caller cannot read; the handlers refuse tokens past 16 KiB unread.
            kestrel.Limits.MaxRequestHeadersTotalSize = 128 * 1024;
            kestrel.Limits.Http2.MaxRequestHeaderFieldSize = 128 * 1024;
        });
        builder.AddTaskQueueSecurity();
        builder.AddTaskQueueTls();

        // The Aspire client's Redis command tracing keeps every command (arguments included) for up to 10 s,
        // then makes a span of each: at queue rates hundreds of MB of broker memory and a span per script
        // call. Off unless Aspire:StackExchange:Redis:DisableTracing is set to false.
        var traceRedisCommands = builder.Configuration.GetValue<bool?>("Aspire:StackExchange:Redis:DisableTracing") == false;
        // Never give up on Redis: while it is away calls fail with UNAVAILABLE, and the broker recovers by itself.
        builder.AddRedisClient(RedisConnectionName, configureSettings: settings => settings.DisableTracing = !traceRedisCommands, configureOptions: redis =>
        {
            redis.AbortOnConnectFail = false;
            redis.ConnectRetry = int.MaxValue;
        });

        var services = builder.Services;
        services.AddValidatedOptions<TaskStoreOptions>(TaskStoreOptions.SectionName, options => options.Validate());
        services.AddValidatedOptions<BrokerOptions>(BrokerOptions.SectionName, options => options.Validate());

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<BrokerIdentity>();
        services.AddHostedService<RedisCredentialsCheck>();
        services.AddSingleton<RedisClockShift>();
        services.AddSingleton<ReplicaAcknowledger>();
        services.AddSingleton<RedisTaskStore>();
        services.AddSingleton<RedisFlowStore>();
        services.AddSingleton<QueueFlowControl>();
        services.AddSingleton<TaskLister>();
        services.AddSingleton<AttemptHistory>();
        services.AddSingleton<IClaimStore>(sp => sp.GetRequiredService<RedisTaskStore>());
        services.AddSingleton<WorkerRegistry>();
        services.AddSingleton<TaskExplainer>();
        services.AddSingleton<BrokerTelemetry>();
        services.AddSingleton<SystemSnapshotReader>();
        services.AddHostedService<BrokerGauges>();
        services.AddSingleton<SessionRegistry>();
        services.AddSingleton<Dispatcher>();
        services.AddSingleton<SettleRetry>();
        services.AddSingleton<OutcomeBatcher>();
        services.AddSingleton<SubmitBatcher>();
        services.AddSingleton<WorkerQuarantine>();
        services.AddSingleton<WorkerDrains>();
        services.AddSingleton<OperatorDrain>();
        services.AddSingleton<ISessionStore, RedisSessionStore>();
        services.AddSingleton<SessionLifecycle>();
        services.AddSingleton<TaskWaiters>();
        services.AddSingleton<TaskWatchers>();
        services.AddSingleton<TaskWatch>();
        services.AddSingleton<ProgressWriter>();
        services.AddSingleton<CheckpointWriter>();
        services.AddSingleton<ClusterEvents>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterEvents>());
        services.AddSingleton<IReadyAnnouncer>(sp => sp.GetRequiredService<ClusterEvents>());
        services.AddHostedService<ReaperService>();
        services.AddSingleton<PromoterSignal>();
        services.AddHostedService<PromoterService>();
        services.AddValidatedOptions<ScheduleOptions>(ScheduleOptions.SectionName, options => options.Validate());
        services.AddSingleton<RedisScheduleStore>();
        services.AddSingleton<ScheduleBook>();
        services.AddSingleton<ScheduleFirer>();
        services.AddSingleton<ScheduleSignal>();
        services.AddHostedService<SchedulerService>();

        services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<ErrorMappingInterceptor>();
            // Inside the error mapping: a malformed task id in a request is bad input before it is a permission question.
            grpc.Interceptors.Add<AuthorizationInterceptor>();
            grpc.MaxReceiveMessageSize = ProtocolLimits.MaxMessageBytes;
            grpc.MaxSendMessageSize = ProtocolLimits.MaxMessageBytes;
        });
        services.AddAbuseLimitsAndAudit();
        return builder;
    }

    public static WebApplication MapTaskQueueBroker(this WebApplication app)
    {
        app.UseAuthentication();
        app.MapGrpcService<TaskApiService>();
        app.MapGrpcService<WorkerStreamService>();
        app.MapBrokerEndpoints();
        return app;
    }
}
