using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TaskQueue.Tests.Fakes;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

/// <summary>A real worker host (the production wiring) connected to a <see cref="FakeBroker"/> over a socket.</summary>
internal sealed class WorkerHarness : IAsyncDisposable
{
    public const string WorkerId = "test-worker";

    private WorkerHarness(FakeBroker broker, IHost host, TaskProbe probe, FakeWorkerSession session)
    {
        Broker = broker;
        Host = host;
        Probe = probe;
        Session = session;
    }

    public FakeBroker Broker { get; }

    public IHost Host { get; }

    public TaskProbe Probe { get; }

    /// <summary>The first connection.</summary>
    public FakeWorkerSession Session { get; }

    public static async Task<WorkerHarness> StartAsync(ITestOutputHelper output, int concurrency = 4, TimeSpan? drainTimeout = null, string? executionLog = null, Action<IServiceCollection>? services = null)
    {
        var broker = await FakeBroker.StartAsync();
        var probe = new TaskProbe();

        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Logging.AddProvider(new TestOutputLoggerProvider(output));
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.AddTaskQueueWorker(options =>
        {
            options.WorkerId = WorkerId;
            options.BrokerAddress = broker.Address;
            options.Queues = ["default", "reports"];
            options.Concurrency = concurrency;
            options.DrainTimeout = drainTimeout ?? TimeSpan.FromSeconds(5);
            options.ExecutionLog = executionLog;
        });
        builder.Services.AddSingleton(probe);
        builder.Services
            .AddBuiltInTaskHandlers()
            .AddTaskHandler<GateTaskHandler>()
            .AddTaskHandler<ProgressTaskHandler>()
            .AddTaskHandler<ThrowingTaskHandler>()
            .AddTaskHandler<RejectingTaskHandler>()
            .AddTaskHandler<CheckpointTaskHandler>();
        services?.Invoke(builder.Services);

        var host = builder.Build();
        await host.StartAsync();
        var session = await broker.NextSessionAsync();
        return new WorkerHarness(broker, host, probe, session);
    }

    /// <summary>Stops the host the way SIGTERM does (graceful drain).</summary>
    public async Task StopAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Host.StopAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        Probe.ReleaseAll();
        Broker.RefuseConnections = false;
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
        {
            await Host.StopAsync(timeout.Token);
        }

        Host.Dispose();
        await Broker.DisposeAsync();
    }
}
