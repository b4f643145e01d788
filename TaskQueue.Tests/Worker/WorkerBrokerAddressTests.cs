using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;
using TaskQueue.Worker;
using TaskQueue.WorkerService.Handlers;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

/// <summary>Where the worker finds its broker: code, the "Worker" section, the AppHost's connection string, service discovery.</summary>
public sealed class WorkerBrokerAddressTests(ITestOutputHelper output)
{
    private const string ConnectionStringKey = "ConnectionStrings:taskqueue";

    [Fact]
    public void The_connection_string_an_AppHost_hands_over_gives_the_broker_addresses()
    {
        using var services = Build(new() { [ConnectionStringKey] = "http://127.0.0.1:5001, http://127.0.0.1:5002" });

        var options = services.GetRequiredService<IOptions<WorkerOptions>>().Value;

        Assert.Equal([new Uri("http://127.0.0.1:5001"), new Uri("http://127.0.0.1:5002")], options.BrokerAddresses);
        Assert.Equal(new Uri("http://127.0.0.1:5001"), options.BrokerAddress);
    }

    [Fact]
    public void The_worker_section_wins_over_the_connection_string_and_code_wins_over_both()
    {
        var settings = new Dictionary<string, string?>
        {
            [ConnectionStringKey] = "http://127.0.0.1:5001,http://127.0.0.1:5002",
            ["Worker:BrokerAddress"] = "http://127.0.0.1:6001",
        };
        using var configured = Build(settings);
        using var coded = Build(settings, options => options.BrokerAddress = new Uri("http://127.0.0.1:7001"));

        Assert.Equal([new Uri("http://127.0.0.1:6001")], configured.GetRequiredService<IOptions<WorkerOptions>>().Value.BrokerAddresses);
        Assert.Equal([new Uri("http://127.0.0.1:7001")], coded.GetRequiredService<IOptions<WorkerOptions>>().Value.BrokerAddresses);
    }

    [Fact]
    public void Broker_addresses_of_mixed_schemes_fail_validation()
    {
        using var services = Build(new() { [ConnectionStringKey] = "http://127.0.0.1:5001,https://127.0.0.1:5002" });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkerOptions>>().Value);
        Assert.Contains("Worker:BrokerAddresses", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_worker_given_two_brokers_moves_to_the_other_when_its_broker_goes_down()
    {
        await using var first = await FakeBroker.StartAsync();
        await using var second = await FakeBroker.StartAsync();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { [ConnectionStringKey] = $"{first.Address},{second.Address}" });
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output));
        builder.AddTaskQueueWorker(options => options.WorkerId = "two-brokers");
        builder.Services.AddTaskHandler<EchoTaskHandler>();
        using var host = builder.Build();
        await host.StartAsync();

        var atFirst = first.NextSessionAsync();
        var atSecond = second.NextSessionAsync();
        var connected = await Task.WhenAny(atFirst, atSecond);
        var (down, session, elsewhere) = connected == atFirst ? (first, await atFirst, atSecond) : (second, await atSecond, atFirst);

        down.RefuseConnections = true;
        session.Abort();
        var moved = await elsewhere;
        await moved.AssignAsync("t-moved", "echo", "on the other broker");
        var outcome = await moved.WaitForOutcomeAsync("t-moved");

        Assert.Equal(WorkerMessage.KindOneofCase.Completed, outcome.KindCase);
        Assert.Equal("on the other broker", outcome.Completed.Result.ToStringUtf8());
        await StopAsync(host);
    }

    private static async Task StopAsync(IHost host)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await host.StopAsync(timeout.Token);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings, Action<WorkerOptions>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddTaskQueueWorker(configure);
        return services.BuildServiceProvider();
    }
}
