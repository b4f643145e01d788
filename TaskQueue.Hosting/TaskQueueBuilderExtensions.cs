using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Configuration;
using TaskQueue.Hosting;

namespace Aspire.Hosting;

/// <summary>Adds TaskQueue — brokers over Redis — to an Aspire application model.</summary>
public static class TaskQueueBuilderExtensions
{
    /// <summary>The AppHost configuration section every broker gets as its own (e.g. <c>TaskQueue:Broker:LeaseDuration</c>).</summary>
    public const string BrokerConfigurationSection = "TaskQueue";

    /// <summary>
    /// Adds a TaskQueue: one broker (see <see cref="WithBrokers"/>) over a Redis it creates (see
    /// <see cref="WithRedis"/>), which requires a password only brokers get. Projects that call
    /// <c>.WithReference(taskQueue, scopes: [...])</c> (see <see cref="TaskQueueReferenceExtensions"/>) get
    /// <c>ConnectionStrings__{name}</c> (the brokers' gRPC addresses) and an API key with those scopes
    /// (<c>TaskQueue__ApiKey</c>), which <c>AddTaskQueueClient()</c> and <c>AddTaskQueueWorker()</c> read;
    /// <c>.WaitFor(taskQueue)</c> waits until every broker answers <c>/health</c>. The dashboard gets two commands on
    /// the resource, replay and purge dead letters, which use the operator key (<see cref="TaskQueueResource.AdminKeyParameter"/>).
    /// Secrets are Aspire secret parameters with generated values, kept in the AppHost's user secrets:
    /// <c>{name}-admin-key</c>, <c>{name}-{service}-key</c> per service, and <c>{name}-redis-password</c> for a local
    /// redis-server or cluster (a Redis container brings its own, <c>{name}-redis-password</c> too).
    /// </summary>
    /// <param name="builder">The AppHost's builder.</param>
    /// <param name="name">The resource name, also the connection string name (e.g. <c>taskqueue</c>).</param>
    /// <param name="configureRedis">
    /// How to provide the Redis it creates, named <c>{name}-redis</c>: by default an existing Redis when
    /// <c>ConnectionStrings:{name}-redis</c> is set, else a container when a container runtime answers, else a
    /// local redis-server; with <see cref="TaskQueueRedisMode.Cluster"/>, a local Redis Cluster
    /// (<see cref="RedisClusterResource"/>). Throws at once when none is possible, saying what to install.
    /// </param>
    /// <returns>The TaskQueue resource builder.</returns>
    /// <example>
    /// <code>
    /// var taskQueue = builder.AddTaskQueue("taskqueue");
    /// builder.AddProject&lt;Projects.Api&gt;("api").WithReference(taskQueue, scopes: ["submit:*", "read:*"]).WaitFor(taskQueue);
    /// builder.AddProject&lt;Projects.Worker&gt;("worker").WithReference(taskQueue, scopes: ["consume:*"]).WaitFor(taskQueue);
    /// </code>
    /// </example>
    public static IResourceBuilder<TaskQueueResource> AddTaskQueue(
        this IDistributedApplicationBuilder builder, [ResourceName] string name, Action<TaskQueueRedisOptions>? configureRedis = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        var redisName = $"{name}-redis";
        var redisOptions = new TaskQueueRedisOptions { ConnectionString = builder.Configuration.GetConnectionString(redisName) };
        configureRedis?.Invoke(redisOptions);
        var redis = builder.AddTaskQueueRedis(redisName, redisOptions);

        var adminKey = builder.AddParameter($"{name}-admin-key", Secrets.Generated(), secret: true, persist: true);
        var taskQueue = new TaskQueueResource(name) { Redis = redis.Resource, OwnRedis = redis.Resource, AdminKeyParameter = adminKey.Resource };
        taskQueue.SetKey(TaskQueueReferenceExtensions.AdminKeyName(name), adminKey.Resource, TaskQueueResource.AdminScopes);
        var taskQueueBuilder = builder.AddResource(taskQueue)
            .WithInitialState(new CustomResourceSnapshot
            {
                ResourceType = "TaskQueue",
                State = KnownResourceStates.NotStarted,
                Properties = [],
            })
            .WithIconName("TaskListSquareLtr")
            .OnInitializeResource(BrokerReadiness.WaitForBrokersAsync)
            .WithDeadLetterCommands();
        redis.WithParentRelationship(taskQueue);
        return taskQueueBuilder.WithBrokers(1);
    }

    /// <summary>
    /// Runs <paramref name="count"/> brokers (<c>{name}-broker-1</c> … <c>{name}-broker-{count}</c>), all over the same
    /// Redis. Brokers are stateless; the connection string lists them all.
    /// </summary>
    /// <param name="builder">The TaskQueue resource builder.</param>
    /// <param name="count">How many brokers, from 1.</param>
    /// <returns>The TaskQueue resource builder.</returns>
    public static IResourceBuilder<TaskQueueResource> WithBrokers(this IResourceBuilder<TaskQueueResource> builder, int count)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);

        var taskQueue = builder.Resource;
        var resources = builder.ApplicationBuilder.Resources;
        while (taskQueue.CreatedBrokers.Count < count)
        {
            taskQueue.CreatedBrokers.Add(BrokerProcess.Add(builder, taskQueue.CreatedBrokers.Count + 1).Resource);
        }

        for (var i = 0; i < taskQueue.CreatedBrokers.Count; i++)
        {
            var broker = taskQueue.CreatedBrokers[i];
            if (i < count && !resources.Contains(broker))
            {
                resources.Add(broker);
            }
            else if (i >= count)
            {
                resources.Remove(broker);
            }
        }

        taskQueue.BrokerCount = count;
        return builder;
    }

    /// <summary>
    /// Pins the first broker's endpoints to fixed ports on this machine (e.g. 5000 and 5001, where TaskQueue's CLI looks
    /// by default), so tools outside the AppHost find it; the other brokers keep ports Aspire allocates.
    /// Aspire.Hosting.Testing still gives every endpoint a random port.
    /// </summary>
    /// <param name="builder">The TaskQueue resource builder.</param>
    /// <param name="httpPort">The port of the HTTP/1.1 endpoint (<c>/health</c>, <c>/metrics</c>), or null for any.</param>
    /// <param name="grpcPort">The port of the gRPC endpoint, or null for any.</param>
    /// <returns>The TaskQueue resource builder.</returns>
    public static IResourceBuilder<TaskQueueResource> WithHostPorts(this IResourceBuilder<TaskQueueResource> builder, int? httpPort, int? grpcPort)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var first = builder.ApplicationBuilder.CreateResourceBuilder(builder.Resource.CreatedBrokers[0]);
        first.WithEndpoint(TaskQueueBrokerResource.HttpEndpointName, endpoint => endpoint.Port = httpPort);
        first.WithEndpoint(TaskQueueBrokerResource.GrpcEndpointName, endpoint => endpoint.Port = grpcPort);
        return builder;
    }

    /// <summary>
    /// Keeps the brokers' state in <paramref name="redis"/> (e.g. <c>builder.AddRedis("cache")</c>, or
    /// <c>builder.AddConnectionString("redis")</c> for an existing server) instead of a Redis of its own. Run
    /// Redis with <c>appendonly yes</c> and <c>maxmemory-policy noeviction</c>: evicted keys are lost tasks. The brokers
    /// connect with whatever credentials that resource's connection string carries (Aspire's Redis container has a
    /// password; for an existing server put <c>password=</c> and <c>user=</c> in the connection string).
    /// </summary>
    /// <param name="builder">The TaskQueue resource builder.</param>
    /// <param name="redis">The Redis to use.</param>
    /// <returns>The TaskQueue resource builder.</returns>
    public static IResourceBuilder<TaskQueueResource> WithRedis(
        this IResourceBuilder<TaskQueueResource> builder, IResourceBuilder<IResourceWithConnectionString> redis)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(redis);

        var taskQueue = builder.Resource;
        var previous = taskQueue.Redis;
        if (ReferenceEquals(previous, redis.Resource))
        {
            return builder;
        }

        if (taskQueue.OwnRedis is { } own)
        {
            // The Redis it made for itself goes, with the password parameter it brings (container, redis-server or
            // cluster) and a cluster's nodes.
            builder.ApplicationBuilder.Resources.Remove(own);
            var password = own switch
            {
                RedisResource container => container.PasswordParameter,
                RedisServerResource server => server.PasswordParameter,
                RedisClusterResource cluster => cluster.PasswordParameter,
                _ => null,
            };
            foreach (var node in (own as RedisClusterResource)?.Nodes ?? [])
            {
                builder.ApplicationBuilder.Resources.Remove(node);
            }

            if (password is not null)
            {
                builder.ApplicationBuilder.Resources.Remove(password);
            }

            taskQueue.OwnRedis = null;
        }

        taskQueue.Redis = redis.Resource;
        foreach (var broker in taskQueue.CreatedBrokers)
        {
            BrokerProcess.UseRedis(builder.ApplicationBuilder.CreateResourceBuilder(broker), previous, redis);
        }

        return builder;
    }
}
