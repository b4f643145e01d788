using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TaskQueue.Hosting;

namespace Aspire.Hosting;

/// <summary>The Redis a TaskQueue creates for itself: an existing server, a container, or a local redis-server.</summary>
internal static partial class TaskQueueRedisBuilderExtensions
{
    /// <summary>
    /// Adds Redis as <paramref name="options"/> choose. Auto mode takes, in order: an existing Redis (a connection
    /// string), a container when a container runtime answers, a local redis-server. When none is possible it throws
    /// at once, saying what to install. The first log line of the run says which Redis it chose and why.
    /// </summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddTaskQueueRedis(
        this IDistributedApplicationBuilder builder, string name, TaskQueueRedisOptions options)
    {
        var dataDirectory = options.DataDirectory is { Length: > 0 } configured
            ? Path.GetFullPath(configured, builder.AppHostDirectory)
            : Path.Combine(builder.AppHostDirectory, ".data", name);
        var connectionString = string.IsNullOrWhiteSpace(options.ConnectionString) ? null : options.ConnectionString;
        var (mode, serverPath, reason) = Choose(builder, name, options, connectionString, dataDirectory);

        var redis = mode switch
        {
            TaskQueueRedisMode.External => builder.AddExistingRedis(name, connectionString!),
            TaskQueueRedisMode.Container => builder.AddRedis(name).WithDataVolume().WithAppendOnlyFile(),
            _ => builder.AddRedisServer(name, serverPath!, dataDirectory),
        };

        builder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            if (@event.Model.Resources.Contains(redis.Resource)) // not replaced by WithRedis
            {
                var logger = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TaskQueue.Hosting");
                LogRedisChoice(logger, name, mode, reason);
            }

            return Task.CompletedTask;
        });
        return redis;
    }

    /// <summary>
    /// A local redis-server process with a direct endpoint on a free port, AOF (fsync every second) in
    /// <paramref name="dataDirectory"/>, no eviction, a password (the secret parameter <c>{name}-password</c>, generated
    /// and kept in the AppHost's user secrets unless <c>Parameters:{name}-password</c> is set), and a health check that
    /// passes once it answers PING.
    /// </summary>
    public static IResourceBuilder<RedisServerResource> AddRedisServer(
        this IDistributedApplicationBuilder builder, string name, string command, string dataDirectory)
    {
        var password = builder.AddParameter($"{name}-password", Secrets.Generated(), secret: true, persist: true);
        var redis = new RedisServerResource(name, command, dataDirectory, password.Resource);
        var passwordFile = Path.Combine(dataDirectory, RedisServerResource.PasswordFileName);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, cancellationToken) =>
        {
            Directory.CreateDirectory(dataDirectory); // also its working directory
            var value = await password.Resource.GetValueAsync(cancellationToken)
                        ?? throw new DistributedApplicationException($"The parameter '{password.Resource.Name}' has no value.");
            await Secrets.WriteOwnerOnlyAsync(passwordFile, $"requirepass {Secrets.RedisConfigQuoted(value)}\n", cancellationToken);
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
                // The password file first: redis-server reads a configuration file only as its first argument.
                context.Args.Add(passwordFile);
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
            .WithIconName("Database")
            .WithReferenceRelationship(password);
    }

    /// <summary>
    /// Turns on AOF (fsync every second) and noeviction for Aspire's Redis container, whichever way the
    /// integration lays out its command line (one shell string after -c, or separate arguments).
    /// </summary>
    public static IResourceBuilder<RedisResource> WithAppendOnlyFile(this IResourceBuilder<RedisResource> builder)
    {
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
        return builder.AddConnectionString(name, ReferenceExpression.Create($"{connectionString}")).WithHealthCheck(healthCheckKey);
    }

    private static (TaskQueueRedisMode Mode, string? ServerPath, string Reason) Choose(
        IDistributedApplicationBuilder builder, string name, TaskQueueRedisOptions options, string? connectionString, string dataDirectory)
    {
        var connectionAdvice = $" (e.g. --ConnectionStrings:{name}=localhost:6379 on the AppHost's command line)";
        switch (options.Mode)
        {
            case TaskQueueRedisMode.External:
                return connectionString is null
                    ? throw new DistributedApplicationException($"TaskQueue's Redis mode is external, but no connection string is set{connectionAdvice}.")
                    : (TaskQueueRedisMode.External, null, "mode external: using the given connection string");
            case TaskQueueRedisMode.Container:
                return (TaskQueueRedisMode.Container, null, "mode container");
            case TaskQueueRedisMode.Executable:
                var path = RedisHostEnvironment.FindRedisServer(options.ServerPath)
                           ?? throw new DistributedApplicationException(
                               $"TaskQueue's Redis mode is executable, but redis-server was not found ({(options.ServerPath is null ? "not on PATH" : $"no file at {options.ServerPath}")}). " + TaskQueueRedisOptions.InstallAdvice);
                return (TaskQueueRedisMode.Executable, path, $"mode executable: {path}, AOF in {dataDirectory}");
        }

        if (connectionString is not null)
        {
            return (TaskQueueRedisMode.External, null, "a connection string is set: using that Redis");
        }

        if (RedisHostEnvironment.FindRunningContainerRuntime(builder.Configuration) is { } runtime)
        {
            return (TaskQueueRedisMode.Container, null, $"container runtime '{runtime}' is running: Redis runs as a container");
        }

        var server = RedisHostEnvironment.FindRedisServer(options.ServerPath)
                     ?? throw new DistributedApplicationException(
                         "TaskQueue needs Redis, and there is no way to run it here: no container runtime answers " +
                         "(docker/podman) and redis-server is not on PATH. " + TaskQueueRedisOptions.InstallAdvice + connectionAdvice);
        return (TaskQueueRedisMode.Executable, server, $"no container runtime answers: running {server}, AOF in {dataDirectory}");
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Redis '{Name}' ({Mode}): {Reason}.")]
    private static partial void LogRedisChoice(ILogger logger, string name, TaskQueueRedisMode mode, string reason);
}
