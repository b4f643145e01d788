extern alias worker;

using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using TaskQueue.Tests.Fakes;
using worker::TaskQueue.Protocol.V1;
using worker::TaskQueue.Worker.Runtime;

namespace TaskQueue.Tests.Unit.Worker;

/// <summary>
/// The worker's runtime classes as production wires them (AddTaskQueueWorker), with fake time and a fake broker
/// client, resolved without starting a host: each test drives the class it covers by hand.
/// </summary>
internal sealed class WorkerParts : IDisposable
{
    public const string WorkerId = "unit-worker";

    private readonly ServiceProvider _provider;

    public WorkerParts()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddTaskQueueWorker(options =>
        {
            options.WorkerId = WorkerId;
            options.BrokerAddress = new Uri("http://127.0.0.1:1");
            options.Queues = ["default", "reports"];
            options.Concurrency = 3;
        });
        services.AddBuiltInTaskHandlers();
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<GrpcClientFactory>(Broker);
        _provider = services.BuildServiceProvider();
    }

    public FakeTimeProvider Time { get; } = new();

    public FakeBrokerClientFactory Broker { get; } = new();

    public TaskExecutor Executor => Get<TaskExecutor>();

    public OutboundQueue Outbound => Get<OutboundQueue>();

    public ResendBuffer Resend => Get<ResendBuffer>();

    public T Get<T>()
        where T : notnull => _provider.GetRequiredService<T>();

    /// <summary>An execution as an assignment creates it (no handler runs).</summary>
    public static TaskExecution Execution(string taskId) =>
        new(new TaskAssignment { TaskId = taskId, LeaseToken = $"lease-{taskId}", Queue = "default", Type = "echo", Attempt = 1 });

    /// <summary>A released outcome of <paramref name="execution"/>, as a drain queues it.</summary>
    public static OutcomeItem Outcome(TaskExecution execution) =>
        new(OutcomeMapper.Released(execution.TaskId, execution.LeaseToken), execution);

    public void Dispose() => _provider.Dispose();
}
