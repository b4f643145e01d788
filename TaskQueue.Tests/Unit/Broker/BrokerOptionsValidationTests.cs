using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TaskQueue.Broker;
using TaskQueue.Broker.Extensions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit.Broker;

/// <summary>Every broker options class is checked one way: its own rules, run at start-up.</summary>
public sealed class BrokerOptionsValidationTests
{
    private static ServiceProvider Services(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddValidatedOptions<BrokerOptions>(BrokerOptions.SectionName, options => options.Validate());
        services.AddValidatedOptions<TaskStoreOptions>(TaskStoreOptions.SectionName, options => options.Validate());
        return services.BuildServiceProvider();
    }

    private static void Start(ServiceProvider services) => services.GetRequiredService<IStartupValidator>().Validate();

    [Fact]
    public void The_defaults_pass_at_start_up()
    {
        using var services = Services();

        Start(services);
    }

    [Theory]
    [InlineData("TaskQueue:Broker:LeaseDuration", "00:00:00.100", "LeaseDuration")]
    [InlineData("TaskQueue:Broker:DisconnectGrace", "00:00:00", "DisconnectGrace")]
    [InlineData("TaskQueue:Broker:MaxClaimBatch", "0", "MaxClaimBatch")]
    [InlineData("TaskQueue:Broker:SettleRetryDelay", "00:00:00", "SettleRetryDelay")]
    [InlineData("TaskQueue:Broker:SettleRetryMaxDelay", "00:00:00.050", "SettleRetryMaxDelay")]
    [InlineData("TaskQueue:Broker:SettleRetryMaxPending", "0", "SettleRetryMaxPending")]
    [InlineData("TaskQueue:Store:DefaultMaxAttempts", "0", "DefaultMaxAttempts")]
    [InlineData("TaskQueue:Store:Retention", "-00:00:01", "Retention")]
    [InlineData("TaskQueue:Store:BackoffInitial", "00:10:00", "Backoff")]
    [InlineData("TaskQueue:Broker:ExecutionTimeoutGrace", "00:00:00", "ExecutionTimeoutGrace")]
    [InlineData("TaskQueue:Broker:ExecutionTimeoutGrace", "-00:00:05", "ExecutionTimeoutGrace")]
    [InlineData("TaskQueue:Store:MaxResultBytes", "0", "MaxResultBytes")]
    public void A_setting_out_of_bounds_stops_the_start_naming_the_setting(string key, string value, string named)
    {
        using var services = Services((key, value));

        var error = Assert.Throws<OptionsValidationException>(() => Start(services));

        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
