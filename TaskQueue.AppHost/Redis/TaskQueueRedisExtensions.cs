using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TaskQueue.AppHost.Redis;

/// <summary>Adds the Redis TaskQueue keeps everything in: a container, a local redis-server, or an existing server.</summary>
public static partial class TaskQueueRedisExtensions
{
    /// <summary>What to install when there is no way to run Redis.</summary>
    public const string InstallAdvice =
        "Install one of: Docker or Podman (and start it); or redis-server " +
        "(`sudo apt-get install redis-server` on Debian/Ubuntu, `brew install redis` on macOS); " +
        "or point the AppHost at an existing Redis with --ConnectionStrings:redis=host:port.";

    /// <summary>
    /// Adds Redis as <paramref name="settings"/> choose. Auto mode takes, in order: an existing Redis
    /// (ConnectionStrings:redis), a container when a container runtime answers, a local redis-server.
    /// When none is possible it throws at once, saying what to install.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddTaskQueueRedis(
        this IDistributedApplicationBuilder builder, RedisSettings settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);

        var (mode, serverPath, reason) = Choose(builder.Configuration, settings);
        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TaskQueue.AppHost");
            LogRedisChoice(logger, mode, reason);
            return Task.CompletedTask;
        });

        return mode switch
        {
            RedisMode.External => builder.AddExistingRedis(RedisSettings.ResourceName, settings.ConnectionString!),
            RedisMode.Container => builder.AddRedis(RedisSettings.ResourceName).WithDataVolume().WithAppendOnlyFile(),
            _ => builder.AddRedisServer(RedisSettings.ResourceName, serverPath!, settings.DataDirectory),
        };
    }

    /// <summary>
    /// Adds a local redis-server process with a direct endpoint on a free port, AOF (fsync every second) in
    /// <paramref name="dataDirectory"/>, no eviction, and a health check that passes once it answers PING.
    /// </summary>
    public static IResourceBuilder<RedisServerResource> AddRedisServer(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, string command, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var redis = new RedisServerResource(name, command, dataDirectory);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, (_, _) =>
        {
            Directory.CreateDirectory(dataDirectory); // also its working directory
            return Task.CompletedTask;
        });

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(redis, async (_, cancellationToken) =>
            connectionString = await redis.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The '{name}' connection string is not known yet."),
            name: healthCheckKey);

        return builder.AddResource(redis)
            // Direct, not through Aspire's TCP proxy: the proxy made Redis 4-7x slower here.
            .WithEndpoint(name: RedisServerResource.PrimaryEndpointName, scheme: "tcp", isProxied: false)
            .WithArgs(context =>
            {
                context.Args.Add("--port");
                context.Args.Add(redis.PrimaryEndpoint.Property(EndpointProperty.TargetPort));
                foreach (var arg in new[]
                         {
                             "--bind", "127.0.0.1", "-::1",
                             "--dir", dataDirectory,
                             "--appendonly", "yes",
                             "--appendfsync", "everysec",
                             "--save", "",
                             "--maxmemory-policy", "noeviction",
                             "--hash-max-listpack-value", "1024",
                             "--daemonize", "no",
                         })
                {
                    context.Args.Add(arg);
                }
            })
            .WithHealthCheck(healthCheckKey)
            .WithIconName("Database");
    }

    /// <summary>
    /// Turns on AOF (fsync every second) and noeviction for Aspire's Redis container, whichever way the
    /// integration lays out its command line (one shell string after -c, or separate arguments).
    /// </summary>
    public static IResourceBuilder<RedisResource> WithAppendOnlyFile(this IResourceBuilder<RedisResource> builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        string[] extra = ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction", "--hash-max-listpack-value", "1024"];
        return builder.WithArgs(context =>
        {
            var shell = context.Args.IndexOf("-c");
            if (shell >= 0 && shell + 1 < context.Args.Count && context.Args[shell + 1] is string command
                && command.StartsWith("redis-server", StringComparison.Ordinal))
            {
                context.Args[shell + 1] = command + " " + string.Join(' ', extra);
                return;
            }

            foreach (var arg in extra)
            {
                context.Args.Add(arg);
            }
        });
    }

    /// <summary>An existing Redis, by connection string; dependents still wait until it answers PING.</summary>
    private static IResourceBuilder<IResourceWithConnectionString> AddExistingRedis(
        this IDistributedApplicationBuilder builder, string name, string connectionString)
    {
        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(connectionString, name: healthCheckKey);
        return builder.AddConnectionString(name).WithHealthCheck(healthCheckKey);
    }

    private static (RedisMode Mode, string? ServerPath, string Reason) Choose(IConfiguration configuration, RedisSettings settings)
    {
        switch (settings.Mode)
        {
            case RedisMode.External:
                return (RedisMode.External, null, "Redis:Mode is external: using ConnectionStrings:redis");
            case RedisMode.Container:
                return (RedisMode.Container, null, "Redis:Mode is container");
            case RedisMode.Executable:
                var path = RedisHostEnvironment.FindRedisServer(settings.ServerPath)
                           ?? throw new DistributedApplicationException(
                               $"Redis:Mode is executable, but redis-server was not found ({(settings.ServerPath is null ? "not on PATH" : $"no file at {settings.ServerPath}")}). " + InstallAdvice);
                return (RedisMode.Executable, path, $"Redis:Mode is executable: {path}, AOF in {settings.DataDirectory}");
        }

        if (settings.ConnectionString is not null)
        {
            return (RedisMode.External, null, "ConnectionStrings:redis is set: using that Redis");
        }

        if (RedisHostEnvironment.FindRunningContainerRuntime(configuration) is { } runtime)
        {
            return (RedisMode.Container, null, $"container runtime '{runtime}' is running: Redis runs as a container");
        }

        var server = RedisHostEnvironment.FindRedisServer(settings.ServerPath)
                     ?? throw new DistributedApplicationException(
                         "TaskQueue needs Redis, and there is no way to run it here: no container runtime answers " +
                         "(docker/podman) and redis-server is not on PATH. " + InstallAdvice);
        return (RedisMode.Executable, server, $"no container runtime answers: running {server}, AOF in {settings.DataDirectory}");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis ({Mode}): {Reason}.")]
    private static partial void LogRedisChoice(ILogger logger, RedisMode mode, string reason);
}
