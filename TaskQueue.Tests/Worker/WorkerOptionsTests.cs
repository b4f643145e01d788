using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using TaskQueue.Worker;

namespace TaskQueue.Tests.Worker;

public sealed class WorkerOptionsTests
{
    [Fact]
    public void Defaults_apply_when_nothing_is_configured()
    {
        using var services = Build([]);

        var options = services.GetRequiredService<IOptions<WorkerOptions>>().Value;

        Assert.Equal(["default"], options.Queues);
        Assert.Equal(8, options.Concurrency);
        Assert.Equal(TimeSpan.FromSeconds(30), options.DrainTimeout);
        Assert.Equal(new Uri("http://_grpc.broker"), options.BrokerAddress);
        Assert.Matches($"^{Environment.MachineName}-{Environment.ProcessId}-[0-9a-f]{{6}}$", options.WorkerId);
        Assert.True(services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout >= TimeSpan.FromSeconds(33));
    }

    [Fact]
    public void The_api_key_is_read_from_TaskQueue_ApiKey_and_Worker_ApiKey_wins()
    {
        using var shared = Build(new() { ["TaskQueue:ApiKey"] = "tqk_shared" });
        using var own = Build(new() { ["TaskQueue:ApiKey"] = "tqk_shared", ["Worker:ApiKey"] = "tqk_own" });
        using var none = Build([]);

        Assert.Equal("tqk_shared", shared.GetRequiredService<IOptions<WorkerOptions>>().Value.ApiKey);
        Assert.Equal("tqk_own", own.GetRequiredService<IOptions<WorkerOptions>>().Value.ApiKey);
        Assert.Null(none.GetRequiredService<IOptions<WorkerOptions>>().Value.ApiKey);
    }

    [Fact]
    public void Queues_accept_a_comma_separated_value_as_from_an_environment_variable()
    {
        using var services = Build(new() { ["Worker:Queues"] = "emails, reports,emails" });

        Assert.Equal(["emails", "reports"], services.GetRequiredService<IOptions<WorkerOptions>>().Value.Queues);
    }

    [Fact]
    public void Settings_bind_from_the_worker_section()
    {
        using var services = Build(new()
        {
            ["Worker:Queues:0"] = "a",
            ["Worker:Queues:1"] = "b",
            ["Worker:WorkerId"] = "w-1",
            ["Worker:Concurrency"] = "16",
            ["Worker:DrainTimeout"] = "00:01:00",
            ["Worker:BrokerAddress"] = "http://localhost:5001",
        });

        var options = services.GetRequiredService<IOptions<WorkerOptions>>().Value;

        Assert.Equal(["a", "b"], options.Queues);
        Assert.Equal("w-1", options.WorkerId);
        Assert.Equal(16, options.Concurrency);
        Assert.Equal(TimeSpan.FromMinutes(1), options.DrainTimeout);
        Assert.Equal(new Uri("http://localhost:5001"), options.BrokerAddress);
        Assert.True(services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout >= TimeSpan.FromSeconds(63));
    }

    [Theory]
    [InlineData("Worker:Concurrency", "0")]
    [InlineData("Worker:Concurrency", "1025")]
    [InlineData("Worker:DrainTimeout", "-00:00:01")]
    [InlineData("Worker:BrokerAddress", "ftp://broker")]
    public void Invalid_settings_fail_validation(string key, string value)
    {
        using var services = Build(new() { [key] = value });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<WorkerOptions>>().Value);
        Assert.Contains(key, error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddTaskQueueWorker();
        return services.BuildServiceProvider();
    }
}
