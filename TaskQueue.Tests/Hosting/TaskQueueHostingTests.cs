using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using TaskQueue.Protocol;

namespace TaskQueue.Tests.Hosting;

/// <summary>
/// TaskQueue.Hosting's builder API on an application model (a second TaskQueue beside the AppHost's own, nothing
/// started): what WithRedis and WithBrokers leave in the model.
/// </summary>
public sealed class TaskQueueHostingTests
{
    [Fact]
    public async Task With_redis_the_brokers_use_the_given_redis_and_the_one_it_made_for_itself_is_gone()
    {
        await using var builder = await ModelAsync();
        var cache = builder.AddConnectionString("cache", ReferenceExpression.Create($"cache.example:6379"));

        var taskQueue = builder.AddTaskQueue("jobs", redis => redis.Mode = TaskQueueRedisMode.Executable)
            .WithBrokers(2)
            .WithRedis(cache);

        Assert.DoesNotContain(builder.Resources, r => r.Name == "jobs-redis");
        Assert.DoesNotContain(builder.Resources, r => r.Name == "jobs-redis-password"); // its password went with it
        Assert.Same(cache.Resource, taskQueue.Resource.Redis);
        foreach (var broker in taskQueue.Resource.Brokers)
        {
            Assert.Equal(["cache"], broker.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name));
            var environment = await EnvironmentAsync(broker);
            Assert.Equal("{cache.connectionString}", environment["ConnectionStrings__redis"]);
        }
    }

    [Fact]
    public async Task With_redis_a_cluster_it_made_for_itself_goes_with_its_nodes_and_password()
    {
        await using var builder = await ModelAsync();
        var cache = builder.AddConnectionString("cache", ReferenceExpression.Create($"cache.example:6379"));

        var taskQueue = builder.AddTaskQueue("jobs", redis => redis.Mode = TaskQueueRedisMode.Cluster);
        Assert.Equal(["jobs-redis-1", "jobs-redis-2", "jobs-redis-3"], Assert.IsType<RedisClusterResource>(taskQueue.Resource.Redis).Nodes.Select(n => n.Name));
        taskQueue.WithRedis(cache);

        Assert.DoesNotContain(builder.Resources, r => r.Name.StartsWith("jobs-redis", StringComparison.Ordinal));
        Assert.Equal(["cache"], taskQueue.Resource.Brokers[0].Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name));
    }

    [Theory]
    [InlineData(0, 0, "its primaries must number from 1 to 16; they are 0")]
    [InlineData(17, 0, "its primaries must number from 1 to 16; they are 17")]
    [InlineData(3, -1, "its replicas per primary must number from 0 to 4; they are -1")]
    [InlineData(3, 5, "its replicas per primary must number from 0 to 4; they are 5")]
    public async Task A_cluster_of_a_number_of_nodes_out_of_range_is_refused_at_once(int primaries, int replicas, string expected)
    {
        await using var builder = await ModelAsync();

        var refused = Assert.Throws<DistributedApplicationException>(() => builder.AddTaskQueue("jobs", redis =>
        {
            redis.Mode = TaskQueueRedisMode.Cluster;
            redis.Primaries = primaries;
            redis.Replicas = replicas;
        }));
        Assert.Contains(expected, refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(builder.Resources, r => r.Name.StartsWith("jobs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task With_brokers_the_model_holds_exactly_that_many_and_the_connection_string_lists_each()
    {
        await using var builder = await ModelAsync();
        var taskQueue = builder.AddTaskQueue("jobs", redis => redis.Mode = TaskQueueRedisMode.Executable).WithBrokers(3).WithBrokers(1);

        Assert.Equal(["jobs-broker-1"], builder.Resources.OfType<TaskQueueBrokerResource>().Where(b => b.Parent == taskQueue.Resource).Select(b => b.Name));
        Assert.Equal("{jobs-broker-1.bindings.grpc.url}", taskQueue.Resource.ConnectionStringExpression.ValueExpression);

        taskQueue.WithBrokers(2);
        Assert.Equal(["jobs-broker-1", "jobs-broker-2"], builder.Resources.OfType<TaskQueueBrokerResource>().Where(b => b.Parent == taskQueue.Resource).Select(b => b.Name).Order(StringComparer.Ordinal));
        Assert.Equal(
            "{jobs-broker-1.bindings.grpc.url},{jobs-broker-2.bindings.grpc.url}",
            taskQueue.Resource.ConnectionStringExpression.ValueExpression);
        Assert.All(taskQueue.Resource.Brokers, broker => Assert.Same(taskQueue.Resource, broker.Parent));
        Assert.Equal("{jobs-redis.connectionString}", (await EnvironmentAsync(taskQueue.Resource.Brokers[1]))["ConnectionStrings__redis"]);
    }

    [Fact]
    public async Task A_service_referenced_with_scopes_gets_its_own_key_and_every_broker_its_hash_under_the_services_name()
    {
        await using var builder = await ModelAsync();
        var taskQueue = builder.AddTaskQueue("jobs", redis => redis.Mode = TaskQueueRedisMode.Executable).WithBrokers(2);
        var billing = builder.AddExecutable("billing", "billing", ".").WithReference(taskQueue, scopes: ["submit:billing-*", "read:billing-*"]);

        var key = Assert.Single(builder.Resources.OfType<ParameterResource>(), p => p.Name == "jobs-billing-key");
        Assert.True(key.Secret);
        var value = (await key.GetValueAsync(CancellationToken.None))!;
        var environment = await EnvironmentAsync(billing.Resource);
        Assert.Equal("{jobs-billing-key.value}", environment["TaskQueue__ApiKey"]);
        Assert.Equal("{jobs.connectionString}", environment["ConnectionStrings__jobs"]);
        foreach (var broker in taskQueue.Resource.Brokers)
        {
            var settings = await EnvironmentAsync(broker);
            Assert.Equal(ApiKeys.Hash(value), settings["TaskQueue__Security__ApiKeys__billing__Sha256"]);
            Assert.Equal("submit:billing-*", settings["TaskQueue__Security__ApiKeys__billing__Scopes__0"]);
            Assert.Equal("read:billing-*", settings["TaskQueue__Security__ApiKeys__billing__Scopes__1"]);
            Assert.DoesNotContain(value, settings.Values);
        }
    }

    [Theory]
    [InlineData("consume")]
    [InlineData("delete:*")]
    [InlineData("read: *")]
    public async Task A_reference_with_a_scope_that_is_no_scope_is_refused_at_once(string scope)
    {
        await using var builder = await ModelAsync();
        var taskQueue = builder.AddTaskQueue("jobs", redis => redis.Mode = TaskQueueRedisMode.Executable);
        var service = builder.AddExecutable("billing", "billing", ".");

        var refused = Assert.Throws<ArgumentException>(() => service.WithReference(taskQueue, scopes: [scope]));
        Assert.Contains(scope, refused.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => service.WithReference(taskQueue, scopes: []));
    }

    /// <summary>TaskQueue.AppHost's model, built not started, to add a second TaskQueue ("jobs") to.</summary>
    private static async Task<IDistributedApplicationTestingBuilder> ModelAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        return await DistributedApplicationTestingBuilder.CreateAsync<Projects.TaskQueue_AppHost>(["--Redis:Mode=executable", "--Demo=false"], timeout.Token);
    }

    private static async Task<Dictionary<string, string>> EnvironmentAsync(IResource resource) =>
        (await ExecutionConfigurationBuilder.Create(resource).WithEnvironmentVariablesConfig()
            .BuildAsync(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance))
        .EnvironmentVariables.ToDictionary();
}
