using System.Security.Cryptography;

namespace TaskQueue.Worker;

/// <summary>Worker settings, bound from the "Worker" configuration section and validated at start.</summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section the options are bound from: "Worker" (Worker__Concurrency=16, ...).</summary>
    public const string SectionName = "Worker";

    /// <summary>Default broker address: the Aspire service-discovery name of the broker's "grpc" endpoint.</summary>
    public static readonly Uri DefaultBrokerAddress = new("http://_grpc.broker");

    /// <summary>Unique per process; defaults to "{machine}-{pid}-{random}".</summary>
    public string WorkerId { get; set; } = CreateDefaultWorkerId();

    /// <summary>
    /// Queues to take work from. Empty means ["default"]. A comma-separated string also works
    /// (Worker__Queues=a,b).
    /// </summary>
    public string[] Queues { get; set; } = [];

    /// <summary>Tasks run at once, 1..1024.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>How long a graceful stop lets running tasks finish before handing them back.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The broker's gRPC address: a service-discovery name (http://_grpc.broker) or http://host:port.</summary>
    public Uri BrokerAddress { get; set; } = DefaultBrokerAddress;

    /// <summary>
    /// A file to append one JSON line to whenever a handler starts or ends an attempt (<see cref="TaskExecutionRecord"/>):
    /// what this worker really ran, recorded apart from the broker. Unset: no log. Give each worker its own file.
    /// </summary>
    public string? ExecutionLog { get; set; }

    internal static string CreateDefaultWorkerId() =>
        $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
}
