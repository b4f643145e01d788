using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskQueue.Broker;
using TaskQueue.Broker.Storage;
using TaskQueue.Client;
using TaskQueue.Protocol;
using TaskQueue.Cli;
using TaskQueue.Worker;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// docker-compose.yml against the services' code: every variable it sets is one the service reads, every
/// variable the service needs is there, the values pass the services' own validation, and the services
/// find each other by compose service name. No Docker engine needed.
/// </summary>
public sealed class ComposeSettingsTests
{
    private const string DashboardOtlpEndpoint = "http://dashboard:18889";
    private static readonly string[] AnyInterface = ["+", "*", "0.0.0.0", "[::]"];

    private readonly ComposeFile _compose = ComposeFile.Load();

    [Fact]
    public void The_file_runs_the_services_the_AppHost_runs_plus_the_telemetry_dashboard()
    {
        Assert.Equal(["broker", "client", "dashboard", "operator-dashboard", "redis", "worker"], _compose.Services.Keys.Order(StringComparer.Ordinal));
        foreach (var settings in ServiceSettings.All.Values)
        {
            var service = _compose[settings.Service];
            Assert.Equal(".", service.BuildContext);
            Assert.True(File.Exists(Path.Combine(ComposeFile.RepositoryRoot, service.Dockerfile!)), $"{service.Name}: {service.Dockerfile} is missing");
            Assert.Equal($"{settings.Project}/Dockerfile", service.Dockerfile);
        }
    }

    [Fact]
    public void Every_service_sets_only_settings_its_code_reads()
    {
        var unread = ServiceSettings.All.Values
            .SelectMany(settings => _compose[settings.Service].Environment.Keys
                .Where(key => !settings.Reads(key))
                .Select(key => $"{settings.Service} sets {key}, which {settings.Project} never reads"))
            .ToList();

        Assert.True(unread.Count == 0, string.Join("\n", unread));
    }

    [Fact]
    public void Every_service_sets_every_setting_it_needs_to_run_in_a_container()
    {
        var missing = ServiceSettings.All.Values
            .SelectMany(settings => settings.Required
                .Where(key => !_compose[settings.Service].Environment.TryGetValue(key, out var value) || string.IsNullOrWhiteSpace(value))
                .Select(key => $"{settings.Service} lacks {key}"))
            .ToList();

        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    [Fact]
    public void The_settings_check_rejects_misspelt_and_foreign_variables()
    {
        var worker = ServiceSettings.All["worker"];

        Assert.True(worker.Reads("Worker__Concurrency"));
        Assert.True(worker.Reads("Worker__Queues__0"));
        Assert.True(worker.Reads("OTEL_EXPORTER_OTLP_ENDPOINT"));
        Assert.False(worker.Reads("Worker__Concurency"));
        Assert.False(worker.Reads("Worker__Replicas"));
        Assert.False(worker.Reads("TaskQueue__BrokerAddress"));
        Assert.False(worker.Reads("OTEL_EXPORTER_OTLP_ENDPIONT"));
        Assert.False(ServiceSettings.All["client"].Reads("ConnectionStrings__redis"));
        Assert.True(ServiceSettings.All["broker"].Reads("TaskQueue__Store__Retention"));
        Assert.False(ServiceSettings.All["broker"].Reads("TaskQueue__Store__Backoff"));
    }

    [Fact]
    public void The_broker_settings_pass_the_brokers_own_validation()
    {
        var configuration = Configuration(_compose["broker"]);

        var broker = configuration.GetSection(BrokerOptions.SectionName).Get<BrokerOptions>(binder => binder.ErrorOnUnknownConfiguration = true) ?? new BrokerOptions();
        var store = configuration.GetSection(TaskStoreOptions.SectionName).Get<TaskStoreOptions>(binder => binder.ErrorOnUnknownConfiguration = true) ?? new TaskStoreOptions();

        Validator.ValidateObject(broker, new ValidationContext(broker), validateAllProperties: true);
        store.Validate();
        foreach (var endpoint in ServiceSettings.BrokerEndpointNames)
        {
            var url = new Uri(configuration[$"Kestrel:Endpoints:{endpoint}:Url"]!.Replace("://+", "://0.0.0.0", StringComparison.Ordinal).Replace("://*", "://0.0.0.0", StringComparison.Ordinal));
            Assert.Equal(Uri.UriSchemeHttp, url.Scheme);
        }
    }

    [Fact]
    public void The_worker_settings_pass_the_workers_own_validation_with_the_AppHosts_defaults()
    {
        var worker = _compose["worker"];
        var services = new ServiceCollection();
        services.AddSingleton(Configuration(worker));
        services.AddLogging();
        services.AddTaskQueueWorker();
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<WorkerOptions>>().Value;

        Assert.Equal(new Uri(worker.Get(ServiceSettings.WorkerBrokerAddressKey)), options.BrokerAddress);
        // Unset under the AppHost: the compose default must be the same number.
        Assert.Equal(new WorkerOptions().Concurrency, options.Concurrency);
        Assert.Equal(["default"], options.Queues);
    }

    [Fact]
    public void The_client_runs_its_command_against_the_broker_address_from_the_environment()
    {
        var client = _compose["client"];
        var configuration = Configuration(client);
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddTaskQueueClient();
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value;

        var parsed = TaskQueueCli.BuildRootCommand(configuration).Parse([.. client.Command]);

        Assert.Empty(parsed.Errors);
        Assert.Equal("demo", parsed.CommandResult.Command.Name);
        var address = new Uri(client.Get(ServiceSettings.ClientBrokerAddressKey));
        Assert.Equal(address, options.BrokerAddress);
        Assert.Equal([address], parsed.GetValue<Uri[]>("--broker")!);
    }

    [Fact]
    public void Services_find_each_other_by_compose_service_name_and_container_port()
    {
        var broker = _compose["broker"];
        var grpcPort = ListeningPort(broker, "grpc");

        var redis = ParseHostPort(broker.Get(ServiceSettings.RedisConnectionKey).Split(',')[0]);
        Assert.Equal(("redis", 6379), redis);
        Assert.DoesNotContain(_compose["redis"].Command, arg => arg == "--port");

        foreach (var (service, key) in new[] { ("worker", ServiceSettings.WorkerBrokerAddressKey), ("client", ServiceSettings.ClientBrokerAddressKey) })
        {
            var address = new Uri(_compose[service].Get(key));
            Assert.Equal(("http", "broker", grpcPort), (address.Scheme, address.Host, address.Port));
        }
    }

    [Fact]
    public void The_broker_listens_on_every_interface_and_publishes_both_endpoints_on_loopback_only_by_default()
    {
        var broker = _compose["broker"];

        foreach (var endpoint in ServiceSettings.BrokerEndpointNames)
        {
            var url = broker.Get(ServiceSettings.EndpointUrlKey(endpoint));
            var host = url.Split("://")[1].Split(':')[0];
            Assert.True(AnyInterface.Contains(host), $"{endpoint} binds {url}: other containers cannot reach a loopback address");
            Assert.Contains(ListeningPort(broker, endpoint), broker.PublishedContainerPorts);
        }

        foreach (var service in new[] { broker, _compose["dashboard"] })
        {
            Assert.All(service.Ports, port => Assert.StartsWith("127.0.0.1:", port, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Only_the_broker_gets_the_redis_password_and_it_knows_each_callers_key_by_its_hash_alone()
    {
        var env = ComposeFile.DotEnv;
        var (broker, worker, client) = (_compose["broker"], _compose["worker"], _compose["client"]);

        Assert.Equal(env["REDIS_PASSWORD"], Flag(_compose["redis"], "--requirepass"));
        Assert.Equal($"redis:6379,password={env["REDIS_PASSWORD"]}", broker.Get(ServiceSettings.RedisConnectionKey));
        foreach (var (caller, scopes, service) in new[] { ("operator", "submit:* read:* admin:*", (ComposeService?)null), ("worker", "consume:*", worker), ("client", "submit:* read:*", client) })
        {
            var key = env[$"TASKQUEUE_{caller.ToUpperInvariant()}_KEY"];
            Assert.StartsWith(ApiKeys.Prefix, key, StringComparison.Ordinal);
            Assert.Equal(ApiKeys.Hash(key), env[$"TASKQUEUE_{caller.ToUpperInvariant()}_KEY_SHA256"]);
            Assert.Equal(ApiKeys.Hash(key), broker.Get($"{ServiceSettings.BrokerSecurityPrefix}ApiKeys__{caller}__Sha256"));
            Assert.Equal(scopes, broker.Get($"{ServiceSettings.BrokerSecurityPrefix}ApiKeys__{caller}__Scopes__0"));
            Assert.DoesNotContain(key, broker.Environment.Values);
            if (service is not null)
            {
                Assert.Equal(key, service.Get(ServiceSettings.ApiKeyKey));
            }
        }

        Assert.NotEqual(worker.Get(ServiceSettings.ApiKeyKey), client.Get(ServiceSettings.ApiKeyKey));
        foreach (var service in new[] { worker, client })
        {
            Assert.DoesNotContain(service.Environment.Values, value => value.Contains(env["REDIS_PASSWORD"], StringComparison.Ordinal) || value.Contains("redis:", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Redis_keeps_an_append_only_file_on_a_named_volume_and_never_evicts()
    {
        var redis = _compose["redis"];

        Assert.StartsWith("redis:", redis.Image, StringComparison.Ordinal);
        Assert.Equal("redis-server", redis.Command[0]);
        Assert.Equal("yes", Flag(redis, "--appendonly"));
        Assert.Equal("everysec", Flag(redis, "--appendfsync"));
        Assert.Equal("noeviction", Flag(redis, "--maxmemory-policy"));
        // The same settings the tests' and benchmarks' private servers start from (written once, in TaskQueue.Testing),
        // and a password.
        Assert.Equal([.. RedisServerSettings.Product, .. RedisServerSettings.RequirePassword(ComposeFile.DotEnv["REDIS_PASSWORD"])], redis.Command.Skip(1));
        Assert.Equal(ComposeFile.DotEnv["REDIS_PASSWORD"], redis.Get("REDISCLI_AUTH")); // the health check's redis-cli authenticates
        var volume = Assert.Single(redis.VolumeMounts).Split(':');
        Assert.Contains(volume[0], _compose.Volumes);
        Assert.Equal("/data", volume[1]);
        Assert.Contains("redis-cli ping", string.Join(' ', redis.HealthCheck), StringComparison.Ordinal);
        Assert.Empty(redis.Ports);
        Assert.Equal("unless-stopped", redis.Restart);
    }

    [Fact]
    public void The_broker_waits_for_redis_is_health_checked_on_its_http_endpoint_and_restarts()
    {
        var broker = _compose["broker"];

        Assert.Equal("service_healthy", broker.DependsOn["redis"]);
        Assert.Equal("CMD", broker.HealthCheck[0]);
        var url = new Uri(Assert.Single(broker.HealthCheck, arg => arg.StartsWith("http://", StringComparison.Ordinal)));
        Assert.Equal(("127.0.0.1", ListeningPort(broker, "http"), "/health"), (url.Host, url.Port, url.AbsolutePath));
        Assert.Equal("unless-stopped", broker.Restart);
    }

    [Fact]
    public void Four_workers_wait_for_a_healthy_broker_and_get_the_time_to_drain_when_stopped()
    {
        var worker = _compose["worker"];
        var drain = worker.Environment.TryGetValue(Key(WorkerOptions.SectionName, nameof(WorkerOptions.DrainTimeout)), out var configured)
            ? TimeSpan.Parse(configured, System.Globalization.CultureInfo.InvariantCulture)
            : new WorkerOptions().DrainTimeout;

        Assert.Equal(4, worker.Replicas);
        Assert.Equal("service_healthy", worker.DependsOn["broker"]);
        Assert.Equal("unless-stopped", worker.Restart);
        Assert.True(worker.StopGracePeriod >= drain + TimeSpan.FromSeconds(10), $"stop_grace_period {worker.StopGracePeriod} leaves no time past the {drain} drain");
        Assert.Empty(worker.Ports);
    }

    [Fact]
    public void The_client_is_an_optional_one_shot_demo_that_waits_for_the_broker()
    {
        var client = _compose["client"];

        Assert.Equal(["demo"], client.Profiles);
        Assert.Equal(["demo"], client.Command);
        Assert.Equal("service_healthy", client.DependsOn["broker"]);
        Assert.Equal("no", client.Restart);
        Assert.All(_compose.Services.Values.Where(s => s.Name != "client"), service => Assert.Empty(service.Profiles));
    }

    [Fact]
    public void Every_service_sends_its_telemetry_to_the_dashboard_under_its_AppHost_name()
    {
        foreach (var settings in ServiceSettings.All.Values)
        {
            var service = _compose[settings.Service];

            Assert.Equal(DashboardOtlpEndpoint, service.Get(ServiceSettings.OtlpEndpoint));
            Assert.Equal("grpc", service.Get("OTEL_EXPORTER_OTLP_PROTOCOL"));
            Assert.Equal(settings.Service, service.Get(ServiceSettings.ServiceName));
        }

        var dashboard = _compose["dashboard"];
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspire-dashboard:", dashboard.Image, StringComparison.Ordinal);
        Assert.Equal("Unsecured", dashboard.Get("DASHBOARD__OTLP__AUTHMODE"));
        // The OTLP port takes telemetry without authentication: inside the compose network only.
        Assert.Equal([18888], dashboard.PublishedContainerPorts);
    }

    [Fact]
    public void Every_variable_the_file_reads_has_a_default_or_is_a_secret_the_env_script_writes()
    {
        var secrets = ComposeFile.DotEnv.Keys.ToHashSet(StringComparer.Ordinal);
        var unresolved = ComposeFile.Interpolations()
            .Where(text => text != "$$" && !text.Contains(":-", StringComparison.Ordinal))
            .Where(text => !(text.Contains(":?", StringComparison.Ordinal) && secrets.Contains(text[2..text.IndexOf(':', StringComparison.Ordinal)])))
            .ToList();

        Assert.Empty(unresolved);
        Assert.Equal(
            ["REDIS_PASSWORD", "TASKQUEUE_CLIENT_KEY", "TASKQUEUE_CLIENT_KEY_SHA256", "TASKQUEUE_OPERATOR_KEY", "TASKQUEUE_OPERATOR_KEY_SHA256", "TASKQUEUE_WORKER_KEY", "TASKQUEUE_WORKER_KEY_SHA256"],
            secrets.Order(StringComparer.Ordinal));
        Assert.Contains(".env", File.ReadAllLines(Path.Combine(ComposeFile.RepositoryRoot, ".gitignore")));
        Assert.Equal(4, ComposeFile.ParseDuration("4s").TotalSeconds);
        Assert.Equal(TimeSpan.FromSeconds(90), ComposeFile.ParseDuration("1m30s"));
    }

    internal static IConfiguration Configuration(ComposeService service) => new ConfigurationBuilder()
        .AddInMemoryCollection(service.Environment.Select(pair =>
            new KeyValuePair<string, string?>(pair.Key.Replace("__", ":", StringComparison.Ordinal), pair.Value)))
        .Build();

    internal static int ListeningPort(ComposeService broker, string endpoint) =>
        ParseHostPort(broker.Get(ServiceSettings.EndpointUrlKey(endpoint)).Split("://")[1].TrimEnd('/')).Port;

    private static (string Host, int Port) ParseHostPort(string value)
    {
        var separator = value.LastIndexOf(':');
        return (value[..separator], int.Parse(value[(separator + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Key(string section, string name) => ServiceSettings.Key(section, name);

    private static string Flag(ComposeService service, string flag)
    {
        var index = service.Command.ToList().IndexOf(flag);
        Assert.True(index > 0 && index < service.Command.Count - 1, $"{service.Name} runs without {flag}");
        return service.Command[index + 1];
    }
}
