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
    /// string), a container when a container runtime answers, a local redis-server; cluster mode runs a local Redis
    /// Cluster. When none is possible, or the options are out of range, it throws at once, saying what to install or set. The first log line of the run says which Redis it chose and why.
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
            TaskQueueRedisMode.Cluster => builder.AddRedisCluster(name, serverPath!, dataDirectory, options.Primaries, options.Replicas),
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
        return builder.AddRedisProcess(redis, password, passwordFileText: value => $"requirepass {value}\n", extraArgs: _ => { })
            .WithReferenceRelationship(password);
    }

    /// <summary>
    /// A local Redis Cluster (<see cref="RedisClusterResource"/>): <paramref name="primaries"/> primaries and
    /// <paramref name="replicasPerPrimary"/> replicas of each, nodes <c>{name}-1</c> … <c>{name}-N</c> (primaries
    /// first), each a redis-server as <see cref="AddRedisServer"/> runs it plus <c>--cluster-enabled yes</c>, with a
    /// second direct endpoint for the cluster bus and its data (AOF, <c>nodes.conf</c>) in
    /// <c><paramref name="dataDirectory"/>/{node}</c>. One password (<c>{name}-password</c>) for all: each node requires
    /// it and gives it to its primary as a replica (<c>masterauth</c>). The cluster resource joins the nodes once they run
    /// (<see cref="RedisClusterFormation"/>) and is healthy once every primary says <c>cluster_state:ok</c>.
    /// </summary>
    public static IResourceBuilder<RedisClusterResource> AddRedisCluster(
        this IDistributedApplicationBuilder builder, string name, string command, string dataDirectory, int primaries, int replicasPerPrimary)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(primaries, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(replicasPerPrimary);

        var password = builder.AddParameter($"{name}-password", Secrets.Generated(), secret: true, persist: true);
        var cluster = new RedisClusterResource(name, password.Resource) { PrimaryCount = primaries, ReplicasPerPrimary = replicasPerPrimary };
        var clusterBuilder = builder.AddResource(cluster)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "RedisCluster",
                State = KnownResourceStates.NotStarted,
                Properties = [new("redis.cluster.primaries", primaries), new("redis.cluster.replicas-per-primary", replicasPerPrimary)],
            })
            .WithIconName("DatabaseMultiple")
            .WithReferenceRelationship(password)
            .OnInitializeResource(RedisClusterFormation.FormAsync);

        for (var i = 1; i <= primaries * (1 + replicasPerPrimary); i++)
        {
            var node = new RedisServerResource($"{name}-{i}", command, Path.Combine(dataDirectory, $"{name}-{i}"), password.Resource);
            cluster.AddNode(node);
            builder.AddRedisProcess(
                    node,
                    password,
                    // masterauth too: a replica (or a primary demoted by a failover) authenticates to its primary with it.
                    passwordFileText: value => $"requirepass {value}\nmasterauth {value}\n",
                    extraArgs: context =>
                    {
                        context.Args.Add("--cluster-enabled");
                        context.Args.Add("yes");
                        context.Args.Add("--cluster-port");
                        context.Args.Add(new EndpointReference(node, RedisClusterResource.BusEndpointName).Property(EndpointProperty.TargetPort));
                        context.Args.Add("--cluster-config-file");
                        context.Args.Add("nodes.conf");
                    })
                .WithEndpoint(name: RedisClusterResource.BusEndpointName, scheme: "tcp", isProxied: false)
                .WithParentRelationship(cluster);
        }

        // Healthy once every primary says cluster_state:ok (the Redis health check asks CLUSTER INFO of a cluster node).
        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(cluster, async (_, cancellationToken) =>
            connectionString = await cluster.ConnectionStringExpression.GetValueAsync(cancellationToken));
        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().AddRedis(
            _ => connectionString ?? throw new InvalidOperationException($"The '{name}' cluster is not formed yet."),
            name: healthCheckKey);
        return clusterBuilder.WithHealthCheck(healthCheckKey);
    }

    /// <summary>
    /// One redis-server process: the password file (written owner-only before each start, from
    /// <paramref name="passwordFileText"/>), the TaskQueue settings, <paramref name="extraArgs"/>, a direct endpoint and a
    /// Redis health check on its own connection string.
    /// </summary>
    private static IResourceBuilder<RedisServerResource> AddRedisProcess(
        this IDistributedApplicationBuilder builder,
        RedisServerResource redis,
        IResourceBuilder<ParameterResource> password,
        Func<string, string> passwordFileText,
        Action<CommandLineArgsCallbackContext> extraArgs)
    {
        var name = redis.Name;
        var dataDirectory = redis.WorkingDirectory;
        var passwordFile = Path.Combine(dataDirectory, RedisServerResource.PasswordFileName);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(redis, async (_, cancellationToken) =>
        {
            Directory.CreateDirectory(dataDirectory); // also its working directory
            var value = await password.Resource.GetValueAsync(cancellationToken)
                        ?? throw new DistributedApplicationException($"The parameter '{password.Resource.Name}' has no value.");
            await Secrets.WriteOwnerOnlyAsync(passwordFile, passwordFileText(Secrets.RedisConfigQuoted(value)), cancellationToken);
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

                extraArgs(context);
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
            case TaskQueueRedisMode.Cluster:
                if (options.Primaries is < 1 or > TaskQueueRedisOptions.MaxPrimaries)
                {
                    throw new DistributedApplicationException(
                        $"TaskQueue's Redis mode is cluster, and its primaries must number from 1 to {TaskQueueRedisOptions.MaxPrimaries}; they are {options.Primaries}.");
                }

                if (options.Replicas is < 0 or > TaskQueueRedisOptions.MaxReplicas)
                {
                    throw new DistributedApplicationException(
                        $"TaskQueue's Redis mode is cluster, and its replicas per primary must number from 0 to {TaskQueueRedisOptions.MaxReplicas}; they are {options.Replicas}.");
                }

                var clusterServer = RedisHostEnvironment.FindRedisServer(options.ServerPath)
                                    ?? throw new DistributedApplicationException(
                                        $"TaskQueue's Redis mode is cluster, but redis-server was not found ({(options.ServerPath is null ? "not on PATH" : $"no file at {options.ServerPath}")}): a local cluster runs redis-server --cluster-enabled yes. " + TaskQueueRedisOptions.InstallAdvice);
                return (TaskQueueRedisMode.Cluster, clusterServer,
                    $"mode cluster: {options.Primaries} primaries with {options.Replicas} replicas each, {clusterServer}, AOF in {dataDirectory}/{name}-N");
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
