using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Worker;

namespace TaskQueue.Tests.Client;

/// <summary>
/// Where AddTaskQueueClient finds the broker: code, then TaskQueue:BrokerAddress, then the Aspire
/// connection string ConnectionStrings:taskqueue (one address or several), then service discovery.
/// </summary>
public sealed class ClientConfigurationTests
{
    [Fact]
    public void Without_any_setting_the_client_asks_service_discovery_for_the_brokers_grpc_endpoint()
    {
        var options = Options(new Dictionary<string, string?>());

        Assert.Equal([TaskQueueClientOptions.DefaultBrokerAddress], options.BrokerAddresses);
    }

    [Fact]
    public void An_Aspire_connection_string_names_the_broker_when_nothing_else_does()
    {
        var options = Options(new() { ["ConnectionStrings:taskqueue"] = "http://127.0.0.1:7001" });

        Assert.Equal(new Uri("http://127.0.0.1:7001"), options.BrokerAddress);
        Assert.Single(options.BrokerAddresses);
    }

    [Fact]
    public void A_connection_string_with_several_addresses_gives_every_broker()
    {
        var options = Options(new() { ["ConnectionStrings:taskqueue"] = "http://127.0.0.1:7001, http://127.0.0.1:7002" });

        Assert.Equal([new Uri("http://127.0.0.1:7001"), new Uri("http://127.0.0.1:7002")], options.BrokerAddresses);
    }

    [Fact]
    public void TaskQueue_BrokerAddress_wins_over_the_connection_string_and_code_wins_over_both()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:taskqueue"] = "http://127.0.0.1:7001,http://127.0.0.1:7002",
            ["TaskQueue:BrokerAddress"] = "http://127.0.0.1:7003",
            ["TaskQueue:RequestTimeout"] = "00:00:05",
            ["TaskQueue:BatchSize"] = "7",
        };

        var configured = Options(settings);
        var coded = Options(settings, options => options.BrokerAddress = new Uri("http://127.0.0.1:7004"));

        Assert.Equal([new Uri("http://127.0.0.1:7003")], configured.BrokerAddresses);
        Assert.Equal((TimeSpan.FromSeconds(5), 7), (configured.RequestTimeout, configured.BatchSize));
        Assert.Equal([new Uri("http://127.0.0.1:7004")], coded.BrokerAddresses);
    }

    [Fact]
    public void TaskQueue_BrokerAddresses_is_a_list_of_brokers_in_configuration()
    {
        var options = Options(new()
        {
            ["TaskQueue:BrokerAddresses:0"] = "http://127.0.0.1:7001",
            ["TaskQueue:BrokerAddresses:1"] = "http://127.0.0.1:7002",
            ["ConnectionStrings:taskqueue"] = "http://127.0.0.1:7003",
        });

        Assert.Equal([new Uri("http://127.0.0.1:7001"), new Uri("http://127.0.0.1:7002")], options.BrokerAddresses);
    }

    [Theory]
    [InlineData("127.0.0.1:7001")]
    [InlineData("http://127.0.0.1:7001,tcp://127.0.0.1:7002")]
    public void A_connection_string_that_is_not_a_list_of_http_addresses_fails_on_start(string connectionString)
    {
        var error = Assert.ThrowsAny<Exception>(() => Options(new() { ["ConnectionStrings:taskqueue"] = connectionString }));

        Assert.Contains("ConnectionStrings:taskqueue", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mixed_schemes_are_rejected_by_validation()
    {
        var error = Assert.Throws<OptionsValidationException>(() => Options(new() { ["ConnectionStrings:taskqueue"] = "http://a:1,https://b:2" }));

        Assert.Contains("mix http:// and https://", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_several_brokers_calls_are_spread_over_all_of_them()
    {
        var fakes = new[] { new FakeTaskService(), new FakeTaskService() };
        await using var first = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[0]));
        await using var second = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[1]));
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:taskqueue"] = $"{first.Address},{second.Address}",
            }).Build())
            .AddLogging()
            .AddTaskQueueClient();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<TaskQueueClient>();

        // Round-robin picks the next ready broker per call; until the second connection is up, calls may all go
        // to the first. Bounded: at most 200 calls (about a second here).
        for (var i = 0; i < 200 && fakes.Any(fake => fake.Requests.IsEmpty); i++)
        {
            await client.GetQueueStatsAsync("q");
        }

        Assert.All(fakes, fake => Assert.NotEmpty(fake.Requests.OfType<GetQueueStatsRequest>()));
    }

    [Fact]
    public async Task A_channel_over_several_brokers_reaches_each_of_them()
    {
        var fakes = new[] { new FakeTaskService(), new FakeTaskService() };
        await using var first = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[0]));
        await using var second = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[1]));
        using var channel = TaskQueueClient.CreateChannel([first.Address, second.Address]);
        var client = new TaskQueueClient(channel);

        for (var i = 0; i < 200 && fakes.Any(fake => fake.Requests.IsEmpty); i++)
        {
            await client.GetQueueStatsAsync("q");
        }

        Assert.All(fakes, fake => Assert.NotEmpty(fake.Requests.OfType<GetQueueStatsRequest>()));
    }

    [Fact]
    public void TaskQueue_ApiKey_is_read_from_configuration_and_code_wins()
    {
        Assert.Equal("tqk_configured", Options(new() { ["TaskQueue:ApiKey"] = "tqk_configured" }).ApiKey);
        Assert.Equal("tqk_coded", Options(new() { ["TaskQueue:ApiKey"] = "tqk_configured" }, options => options.ApiKey = "tqk_coded").ApiKey);
        Assert.Null(Options([]).ApiKey);
    }

    [Fact]
    public async Task The_registered_client_sends_its_api_key_as_a_bearer_token_on_every_call_to_every_broker()
    {
        var fakes = new[] { new FakeTaskService(), new FakeTaskService() };
        await using var first = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[0]));
        await using var second = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fakes[1]));
        await using var one = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["TaskQueue:BrokerAddress"] = first.Address.ToString(), ["TaskQueue:ApiKey"] = "tqk_one",
            }).Build())
            .AddLogging().AddTaskQueueClient().BuildServiceProvider();
        await using var several = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:taskqueue"] = $"{first.Address},{second.Address}", ["TaskQueue:ApiKey"] = "tqk_several",
            }).Build())
            .AddLogging().AddTaskQueueClient().BuildServiceProvider();

        await one.GetRequiredService<TaskQueueClient>().GetQueueStatsAsync("q");
        for (var i = 0; i < 200 && fakes.Any(fake => fake.Requests.Count < (fake == fakes[0] ? 2 : 1)); i++)
        {
            await several.GetRequiredService<TaskQueueClient>().GetQueueStatsAsync("q");
        }

        Assert.Equal("Bearer tqk_one", fakes[0].Authorizations.First());
        Assert.All(fakes[0].Authorizations.Skip(1).Concat(fakes[1].Authorizations), header => Assert.Equal("Bearer tqk_several", header));
        Assert.NotEmpty(fakes[1].Authorizations);
    }

    [Fact]
    public async Task A_channel_from_options_asks_the_access_token_provider_before_every_call_and_it_wins_over_the_key()
    {
        var fake = new FakeTaskService();
        await using var server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(fake));
        var issued = 0;
        using var channel = TaskQueueClient.CreateChannel(new TaskQueueClientOptions
        {
            BrokerAddress = server.Address,
            ApiKey = "tqk_ignored",
            AccessTokenProvider = _ => ValueTask.FromResult($"token-{Interlocked.Increment(ref issued)}"),
        });
        var client = new TaskQueueClient(channel);

        await client.GetQueueStatsAsync("q");
        await client.GetQueueStatsAsync("q");

        Assert.Equal(["Bearer token-1", "Bearer token-2"], fake.Authorizations);
    }

    private static TaskQueueClientOptions Options(Dictionary<string, string?> settings, Action<TaskQueueClientOptions>? configure = null)
    {
        var services = new ServiceCollection()
            .AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build())
            .AddTaskQueueClient(configure);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<TaskQueueClientOptions>>().Value;
    }
}
