using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using TaskQueue.Protocol;
using Xunit.Abstractions;

namespace TaskQueue.Tests.AppHost;

/// <summary>
/// What the AppHost defines, read from its application model without starting anything: fast, and it covers
/// the choices a machine without a container runtime cannot run (the Redis container, an existing Redis).
/// </summary>
public sealed class AppHostModelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task By_default_it_defines_redis_then_one_broker_then_four_worker_replicas_then_the_demo_client()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable");

        var taskQueue = Assert.IsType<TaskQueueResource>(model[TaskQueueApp.TaskQueueName]);
        var redis = Assert.IsType<RedisServerResource>(model[TaskQueueApp.RedisName]);
        var broker = Assert.IsType<TaskQueueBrokerResource>(model[TaskQueueApp.BrokerName]);
        var worker = Assert.IsType<ProjectResource>(model["worker"]);
        var client = Assert.IsType<ProjectResource>(model["client"]);
        Assert.Equal([broker], taskQueue.Brokers);
        Assert.Same(redis, taskQueue.Redis);
        Assert.Single(model.All.OfType<TaskQueueBrokerResource>());
        Assert.Equal(4, Replicas(worker));
        Assert.Equal([TaskQueueApp.RedisName], WaitsFor(broker));
        Assert.Equal([TaskQueueApp.TaskQueueName], WaitsFor(worker));
        Assert.Equal([TaskQueueApp.TaskQueueName], WaitsFor(client));
        Assert.Equal(["demo"], await model.ArgumentsAsync(client));

        // The local redis-server: a direct endpoint, AOF in a data directory, no eviction, a PING health check.
        var endpoint = Assert.Single(redis.Annotations.OfType<EndpointAnnotation>());
        Assert.False(endpoint.IsProxied);
        var args = string.Join(' ', await model.ArgumentsAsync(redis));
        Assert.Contains("--appendonly yes", args, StringComparison.Ordinal);
        Assert.Contains("--maxmemory-policy noeviction", args, StringComparison.Ordinal);
        Assert.Contains("--dir ", args, StringComparison.Ordinal);
        Assert.Contains(redis.Annotations.OfType<HealthCheckAnnotation>(), check => check.Key == $"{TaskQueueApp.RedisName}_check");
        Assert.Contains(broker.Annotations.OfType<HealthCheckAnnotation>(), check => check.Key.Contains("/health", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_broker_runs_from_the_AppHosts_output_with_an_http1_and_an_http2_endpoint_and_the_redis_connection_string()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable");

        var broker = Assert.IsType<TaskQueueBrokerResource>(model[TaskQueueApp.BrokerName]);
        var entry = Assert.Single(await model.ArgumentsAsync(broker));
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "taskqueue-broker", "TaskQueue.Broker.dll"), entry);
        Assert.True(File.Exists(entry), $"{entry} is missing: the hosting integration's build did not bring the broker along");
        Assert.Equal(
            [TaskQueueBrokerResource.GrpcEndpointName, TaskQueueBrokerResource.HttpEndpointName],
            broker.Annotations.OfType<EndpointAnnotation>().Select(e => e.Name).Order(StringComparer.Ordinal));

        var environment = await model.EnvironmentAsync(broker);
        Assert.Equal("Http1", environment["Kestrel__Endpoints__http__Protocols"]);
        Assert.Equal("Http2", environment["Kestrel__Endpoints__grpc__Protocols"]);
        Assert.Contains("Kestrel__Endpoints__grpc__Url", environment.Keys);
        Assert.Equal($"{{{TaskQueueApp.RedisName}.connectionString}}", environment["ConnectionStrings__redis"]);
    }

    [Fact]
    public async Task The_operator_dashboard_gets_the_brokers_addresses_and_no_api_key_of_its_own()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable");

        var dashboard = Assert.IsType<ProjectResource>(model["operator-dashboard"]);
        var environment = await model.EnvironmentAsync(dashboard);
        Assert.Equal("{taskqueue.connectionString}", environment["ConnectionStrings__taskqueue"]);
        Assert.Equal("{taskqueue-broker-1.bindings.http.url}", environment["Dashboard__BrokerHttpAddress"]);
        Assert.DoesNotContain("TaskQueue__ApiKey", environment.Keys);
        Assert.Contains(dashboard.Annotations.OfType<EndpointAnnotation>(), endpoint => endpoint.IsExternal && endpoint.UriScheme == "http");
    }

    [Fact]
    public async Task Workers_and_the_client_get_the_brokers_grpc_address_as_the_taskqueue_connection_string()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable", "--Brokers=2");

        var taskQueue = Assert.IsType<TaskQueueResource>(model[TaskQueueApp.TaskQueueName]);
        var expression = taskQueue.ConnectionStringExpression.ValueExpression;
        output.WriteLine($"taskqueue: {expression}");
        Assert.Equal("{taskqueue-broker-1.bindings.grpc.url},{taskqueue-broker-2.bindings.grpc.url}", expression);
        foreach (var name in new[] { "worker", "client" })
        {
            var environment = await model.EnvironmentAsync(model[name]);
            Assert.Equal("{taskqueue.connectionString}", environment["ConnectionStrings__taskqueue"]);
        }
    }

    [Fact]
    public async Task Each_service_gets_its_own_key_with_its_scopes_and_the_brokers_get_only_the_keys_hashes()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable", "--Brokers=2");

        var keys = new Dictionary<string, string>();
        foreach (var (service, scopes) in new[] { ("worker", new[] { "consume:*" }), ("client", ["submit:*", "read:*"]) })
        {
            var environment = await model.EnvironmentAsync(model[service]);
            Assert.Equal($"{{taskqueue-{service}-key.value}}", environment["TaskQueue__ApiKey"]);
            var parameter = Assert.IsType<ParameterResource>(model[$"taskqueue-{service}-key"]);
            Assert.True(parameter.Secret);
            keys[service] = (await parameter.GetValueAsync(CancellationToken.None))!;
            Assert.False(string.IsNullOrWhiteSpace(keys[service]));

            foreach (var broker in model.All.OfType<TaskQueueBrokerResource>())
            {
                var settings = await model.EnvironmentAsync(broker);
                Assert.Equal(ApiKeys.Hash(keys[service]), settings[$"TaskQueue__Security__ApiKeys__{service}__Sha256"]);
                Assert.Equal(scopes, settings.Where(s => s.Key.StartsWith($"TaskQueue__Security__ApiKeys__{service}__Scopes__", StringComparison.Ordinal)).OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value));
            }
        }

        Assert.NotEqual(keys["worker"], keys["client"]);
        var taskQueue = Assert.IsType<TaskQueueResource>(model[TaskQueueApp.TaskQueueName]);
        var adminKey = (await taskQueue.AdminKeyParameter.GetValueAsync(CancellationToken.None))!;
        Assert.True(taskQueue.AdminKeyParameter.Secret);
        foreach (var broker in model.All.OfType<TaskQueueBrokerResource>())
        {
            var settings = await model.EnvironmentAsync(broker);
            Assert.Equal(ApiKeys.Hash(adminKey), settings["TaskQueue__Security__ApiKeys__taskqueue-admin__Sha256"]);
            Assert.Contains("admin:*", settings.Where(s => s.Key.StartsWith("TaskQueue__Security__ApiKeys__taskqueue-admin__Scopes__", StringComparison.Ordinal)).Select(s => s.Value));
            // Never a key itself, nor a reference to one.
            Assert.DoesNotContain(settings.Values, value => value.Contains("-key", StringComparison.Ordinal) || keys.ContainsValue(value) || value == adminKey);
            Assert.DoesNotContain("TaskQueue__ApiKey", settings.Keys);
        }
    }

    [Fact]
    public async Task The_local_redis_server_requires_a_generated_password_kept_off_its_command_line_and_only_brokers_get_it()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable");

        var redis = Assert.IsType<RedisServerResource>(model[TaskQueueApp.RedisName]);
        Assert.True(redis.PasswordParameter.Secret);
        Assert.Same(redis.PasswordParameter, model[$"{TaskQueueApp.RedisName}-password"]);
        var password = (await redis.PasswordParameter.GetValueAsync(CancellationToken.None))!;
        Assert.True(password.Length >= 32, "a generated password of at least 32 characters");
        Assert.EndsWith($",password={{{TaskQueueApp.RedisName}-password.value}}", redis.ConnectionStringExpression.ValueExpression, StringComparison.Ordinal);

        // redis-server reads the password from a file given as its first argument, never from its command line.
        var args = await model.ArgumentsAsync(redis);
        Assert.Equal(Path.Combine(redis.WorkingDirectory, RedisServerResource.PasswordFileName), args[0]);
        Assert.DoesNotContain(args, arg => arg.Contains("requirepass", StringComparison.Ordinal) || arg.Contains(password, StringComparison.Ordinal) || arg.Contains("-password", StringComparison.Ordinal));

        // Only brokers hold Redis credentials: workers and the client get none.
        Assert.Equal($"{{{TaskQueueApp.RedisName}.connectionString}}", (await model.EnvironmentAsync(model[TaskQueueApp.BrokerName]))["ConnectionStrings__redis"]);
        foreach (var name in new[] { "worker", "client" })
        {
            var environment = await model.EnvironmentAsync(model[name]);
            Assert.DoesNotContain(environment, e => e.Key.Contains("redis", StringComparison.OrdinalIgnoreCase)
                                                    || e.Value.Contains(TaskQueueApp.RedisName, StringComparison.Ordinal)
                                                    || e.Value.Contains(password, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_taskqueue_resource_offers_replay_and_purge_of_dead_letters_and_purge_asks_first()
    {
        await using var model = await ModelAsync("--Redis:Mode=executable");

        var commands = model[TaskQueueApp.TaskQueueName].Annotations.OfType<ResourceCommandAnnotation>().ToDictionary(c => c.Name);
        Assert.Null(commands[TaskQueueResource.ReplayDeadLettersCommandName].ConfirmationMessage);
        Assert.False(string.IsNullOrEmpty(commands[TaskQueueResource.PurgeDeadLettersCommandName].ConfirmationMessage));
    }

    [Fact]
    public async Task Replica_counts_and_worker_and_broker_settings_come_from_the_AppHosts_configuration()
    {
        await using var model = await ModelAsync(
            "--Redis:Mode=executable", "--Workers=8", "--Brokers=2", "--Demo=false",
            "--Worker:Concurrency=16", "--Worker:Queues=a,b", "--TaskQueue:Broker:LeaseDuration=00:00:05");

        Assert.Equal(8, Replicas(model["worker"]));
        Assert.Equal(["taskqueue-broker-1", "taskqueue-broker-2"], model.All.OfType<TaskQueueBrokerResource>().Select(b => b.Name).Order(StringComparer.Ordinal));
        Assert.False(model.ContainsKey("client"));
        var worker = await model.EnvironmentAsync(model["worker"]);
        Assert.Equal("16", worker["Worker__Concurrency"]);
        Assert.Equal("a,b", worker["Worker__Queues"]);
        foreach (var broker in model.All.OfType<TaskQueueBrokerResource>())
        {
            Assert.Equal("00:00:05", (await model.EnvironmentAsync(broker))["TaskQueue__Broker__LeaseDuration"]);
            Assert.Equal([TaskQueueApp.RedisName], WaitsFor(broker));
        }
    }

    [Fact]
    public async Task In_container_mode_redis_is_the_Aspire_container_with_a_data_volume_append_only_file_and_noeviction()
    {
        await using var model = await ModelAsync("--Redis:Mode=container");

        var redis = Assert.IsType<RedisResource>(model[TaskQueueApp.RedisName]);
        Assert.Contains(redis.Annotations.OfType<ContainerMountAnnotation>(), mount => mount.Type == ContainerMountType.Volume && mount.Target == "/data");
        var args = string.Join(' ', await model.ArgumentsAsync(redis));
        output.WriteLine($"container args: {args}");
        Assert.Contains("--appendonly yes", args, StringComparison.Ordinal);
        Assert.Contains("--maxmemory-policy noeviction", args, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_cluster_mode_redis_is_three_cluster_enabled_redis_servers_under_one_cluster_resource_whose_connection_string_lists_every_primary()
    {
        await using var model = await ModelAsync("--Redis:Mode=cluster");

        var cluster = Assert.IsType<RedisClusterResource>(model[TaskQueueApp.RedisName]);
        var taskQueue = Assert.IsType<TaskQueueResource>(model[TaskQueueApp.TaskQueueName]);
        Assert.Same(cluster, taskQueue.Redis);
        Assert.Equal(["taskqueue-redis-1", "taskqueue-redis-2", "taskqueue-redis-3"], cluster.Nodes.Select(n => n.Name));
        Assert.Equal(cluster.Nodes, cluster.Primaries);
        Assert.False(model.ContainsKey("taskqueue-redis-4"));
        var password = Assert.IsType<ParameterResource>(model[$"{TaskQueueApp.RedisName}-password"]);
        Assert.True(password.Secret);
        Assert.Same(password, cluster.PasswordParameter);

        var directories = new HashSet<string>();
        foreach (var node in cluster.Nodes)
        {
            Assert.Same(node, model[node.Name]);
            Assert.Same(password, node.PasswordParameter);
            Assert.Contains(node.Annotations.OfType<ResourceRelationshipAnnotation>(), r => r.Type == "Parent" && r.Resource == cluster);

            // Two direct endpoints: clients and the cluster bus, each on a port Aspire allocates.
            var endpoints = node.Annotations.OfType<EndpointAnnotation>().ToList();
            Assert.Equal([RedisClusterResource.BusEndpointName, RedisServerResource.PrimaryEndpointName], endpoints.Select(e => e.Name).Order(StringComparer.Ordinal));
            Assert.All(endpoints, endpoint => Assert.False(endpoint.IsProxied));
            Assert.All(endpoints, endpoint => Assert.Null(endpoint.Port));

            // The password from its file (first), the TaskQueue settings, cluster mode with its bus port; AOF in a directory of its own.
            var args = await model.ArgumentsAsync(node);
            Assert.Equal(Path.Combine(node.WorkingDirectory, RedisServerResource.PasswordFileName), args[0]);
            var line = string.Join(' ', args);
            output.WriteLine($"{node.Name}: {line}");
            Assert.Contains("--cluster-enabled yes", line, StringComparison.Ordinal);
            Assert.Contains($"--cluster-port {{{node.Name}.bindings.bus.targetPort}}", line, StringComparison.Ordinal);
            Assert.Contains($"--port {{{node.Name}.bindings.tcp.targetPort}}", line, StringComparison.Ordinal);
            Assert.Contains("--appendonly yes", line, StringComparison.Ordinal);
            Assert.Contains("--maxmemory-policy noeviction", line, StringComparison.Ordinal);
            Assert.Contains($"--dir {node.WorkingDirectory}", line, StringComparison.Ordinal);
            Assert.Equal(node.Name, Path.GetFileName(node.WorkingDirectory));
            Assert.True(directories.Add(node.WorkingDirectory));
            Assert.DoesNotContain(args, arg => arg.Contains("requirepass", StringComparison.Ordinal) || arg.Contains("-password", StringComparison.Ordinal));
        }

        // Brokers get every primary and the password, and wait for the cluster (healthy: cluster_state:ok).
        Assert.Equal(
            "127.0.0.1:{taskqueue-redis-1.bindings.tcp.targetPort},127.0.0.1:{taskqueue-redis-2.bindings.tcp.targetPort}," +
            "127.0.0.1:{taskqueue-redis-3.bindings.tcp.targetPort},password={taskqueue-redis-password.value}",
            cluster.ConnectionStringExpression.ValueExpression);
        Assert.Contains(cluster.Annotations.OfType<HealthCheckAnnotation>(), check => check.Key == $"{TaskQueueApp.RedisName}_check");
        Assert.Equal([TaskQueueApp.RedisName], WaitsFor(model[TaskQueueApp.BrokerName]));
        Assert.Equal($"{{{TaskQueueApp.RedisName}.connectionString}}", (await model.EnvironmentAsync(model[TaskQueueApp.BrokerName]))["ConnectionStrings__redis"]);
    }

    [Fact]
    public async Task In_cluster_mode_with_replicas_each_primary_gets_that_many_more_nodes_and_the_connection_string_still_lists_the_primaries_only()
    {
        await using var model = await ModelAsync("--Redis:Mode=cluster", "--Redis:Primaries=2", "--Redis:Replicas=2");

        var cluster = Assert.IsType<RedisClusterResource>(model[TaskQueueApp.RedisName]);
        Assert.Equal(6, cluster.Nodes.Count);
        Assert.Equal(["taskqueue-redis-1", "taskqueue-redis-2"], cluster.Primaries.Select(n => n.Name));
        Assert.Equal(2, cluster.ReplicasPerPrimary);
        Assert.Equal(6, model.All.OfType<RedisServerResource>().Count());
        Assert.Equal(
            "127.0.0.1:{taskqueue-redis-1.bindings.tcp.targetPort},127.0.0.1:{taskqueue-redis-2.bindings.tcp.targetPort},password={taskqueue-redis-password.value}",
            cluster.ConnectionStringExpression.ValueExpression);
    }

    [Theory]
    [InlineData("--Redis:Primaries=0", "Setting 'Redis:Primaries' must be a whole number from 1 to 16; it is '0'.")]
    [InlineData("--Redis:Primaries=17", "Setting 'Redis:Primaries' must be a whole number from 1 to 16; it is '17'.")]
    [InlineData("--Redis:Primaries=three", "Setting 'Redis:Primaries' must be a whole number from 1 to 16; it is 'three'.")]
    [InlineData("--Redis:Replicas=-1", "Setting 'Redis:Replicas' must be a whole number from 0 to 4; it is '-1'.")]
    [InlineData("--Redis:ServerPath=/no/such/redis-server", "TaskQueue's Redis mode is cluster, but redis-server was not found (no file at /no/such/redis-server)")]
    public async Task In_cluster_mode_bad_numbers_and_a_missing_redis_server_stop_it_at_once_saying_which_setting(string setting, string expected)
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => ModelAsync("--Redis:Mode=cluster", setting));

        Assert.Contains(expected, string.Join('\n', Flatten(failure).Select(e => e.Message)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Given_a_connection_string_it_uses_that_redis_and_runs_none()
    {
        await using var model = await ModelAsync("--ConnectionStrings:redis=redis.example:6380");

        var redis = Assert.IsAssignableFrom<IResourceWithConnectionString>(model[TaskQueueApp.RedisName]);
        Assert.IsNotAssignableFrom<ContainerResource>(redis);
        Assert.IsNotAssignableFrom<ExecutableResource>(redis);
        Assert.Equal("redis.example:6380", await redis.GetConnectionStringAsync());
        Assert.Equal([TaskQueueApp.RedisName], WaitsFor(model[TaskQueueApp.BrokerName]));
    }

    [Fact]
    public async Task With_no_container_runtime_and_no_redis_server_it_stops_at_once_saying_what_to_install()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => ModelAsync(
            "--ASPIRE_CONTAINER_RUNTIME=no-such-container-runtime", "--Redis:ServerPath=/no/such/redis-server"));

        var message = string.Join('\n', Flatten(failure).Select(e => e.Message));
        Assert.Contains(TaskQueueRedisOptions.InstallAdvice, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_service_that_exports_gets_the_parent_based_ratio_sampler_every_span_by_default_and_the_ratio_it_is_given()
    {
        string[] services = [TaskQueueApp.BrokerName, "worker", "client"];
        await using (var byDefault = await ModelAsync("--Redis:Mode=executable"))
        {
            foreach (var name in services)
            {
                var environment = await byDefault.EnvironmentAsync(byDefault[name]);
                Assert.Equal(("parentbased_traceidratio", "1"), (environment["OTEL_TRACES_SAMPLER"], environment["OTEL_TRACES_SAMPLER_ARG"]));
            }
        }

        await using var sampled = await ModelAsync("--Redis:Mode=executable", "--TraceSampling:Ratio=0.01", "--Brokers=2");
        foreach (var name in services.Append("taskqueue-broker-2"))
        {
            var environment = await sampled.EnvironmentAsync(sampled[name]);
            output.WriteLine($"{name}: {environment["OTEL_TRACES_SAMPLER"]} {environment["OTEL_TRACES_SAMPLER_ARG"]}");
            Assert.Equal(("parentbased_traceidratio", "0.01"), (environment["OTEL_TRACES_SAMPLER"], environment["OTEL_TRACES_SAMPLER_ARG"]));
        }

        var invalid = await Assert.ThrowsAnyAsync<Exception>(() => ModelAsync("--Redis:Mode=executable", "--TraceSampling:Ratio=2"));
        Assert.Contains("'TraceSampling:Ratio' must be a number from 0 to 1", string.Join('\n', Flatten(invalid).Select(e => e.Message)), StringComparison.Ordinal);
    }

    /// <summary>Runs the AppHost's Program up to its model (built, never started).</summary>
    private static async Task<Model> ModelAsync(params string[] args)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.TaskQueue_AppHost>(args, timeout.Token);
        var resources = builder.Resources.Where(r => !r.Name.EndsWith("-rebuilder", StringComparison.Ordinal)).ToDictionary(r => r.Name);
        return new Model(builder, resources);
    }

    private static int Replicas(IResource resource) =>
        resource.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1;

    private static string[] WaitsFor(IResource resource) =>
        [.. resource.Annotations.OfType<WaitAnnotation>().Select(w => w.Resource.Name).Order()];

    private sealed class Model(IDistributedApplicationTestingBuilder builder, Dictionary<string, IResource> resources) : IAsyncDisposable
    {
        public IResource this[string name] => resources[name];

        public IEnumerable<IResource> All => resources.Values;

        public bool ContainsKey(string name) => resources.ContainsKey(name);

        /// <summary>A resource's command line as a deployment manifest would write it (endpoints as placeholders).</summary>
        public async Task<string[]> ArgumentsAsync(IResource resource) =>
            [.. (await ConfigurationAsync(resource, ExecutionConfigurationBuilder.Create(resource).WithArgumentsConfig())).Arguments.Select(a => a.Value)];

        public async Task<Dictionary<string, string>> EnvironmentAsync(IResource resource) =>
            (await ConfigurationAsync(resource, ExecutionConfigurationBuilder.Create(resource).WithEnvironmentVariablesConfig())).EnvironmentVariables.ToDictionary();

        public ValueTask DisposeAsync() => builder.DisposeAsync();

        private static Task<IExecutionConfigurationResult> ConfigurationAsync(IResource resource, IExecutionConfigurationBuilder configuration) =>
            configuration.BuildAsync(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Publish), NullLogger.Instance);
    }

    private static IEnumerable<Exception> Flatten(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
