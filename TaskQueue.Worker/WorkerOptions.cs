using System.Security.Cryptography;

namespace TaskQueue.Worker;

/// <summary>
/// Worker settings, bound from the "Worker" configuration section and validated at start. Where the broker is,
/// in order of precedence (the first that is set wins):
/// <list type="number">
/// <item><description><see cref="BrokerAddress"/> or <see cref="BrokerAddresses"/> set in code (the <c>configure</c> delegate of <c>AddTaskQueueWorker</c>);</description></item>
/// <item><description>configuration <c>Worker:BrokerAddress</c> (environment <c>Worker__BrokerAddress</c>) or <c>Worker:BrokerAddresses</c>;</description></item>
/// <item><description>the connection string <c>ConnectionStrings:taskqueue</c>, which an Aspire AppHost gives every project that
/// references its TaskQueue resource: one gRPC address, or several separated by commas;</description></item>
/// <item><description><see cref="DefaultBrokerAddress"/>, <c>http://_grpc.broker</c>: the broker's "grpc" endpoint found by
/// service discovery (Aspire's <c>services:broker:grpc</c> configuration).</description></item>
/// </list>
/// With several addresses the worker holds one stream to one broker at a time; each (re)connect goes to the next
/// broker that answers, round-robin, so workers spread over the brokers and move off one that is down.
/// </summary>
public sealed class WorkerOptions
{
    /// <summary>The configuration section the options are bound from: "Worker" (Worker__Concurrency=16, ...).</summary>
    public const string SectionName = "Worker";

    /// <summary>The name of the connection string that holds the broker address(es): "taskqueue".</summary>
    public const string ConnectionStringName = "taskqueue";

    /// <summary>Default broker address: the Aspire service-discovery name of the broker's "grpc" endpoint.</summary>
    public static readonly Uri DefaultBrokerAddress = new("http://_grpc.broker");

    private IReadOnlyList<Uri> _brokerAddresses = [DefaultBrokerAddress];

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

    /// <summary>
    /// The broker's gRPC address: a service-discovery name (http://_grpc.broker) or http://host:port; with several
    /// brokers, the first of <see cref="BrokerAddresses"/>. Setting it makes it the only address.
    /// </summary>
    public Uri BrokerAddress
    {
        get => _brokerAddresses.Count > 0 ? _brokerAddresses[0] : null!;
        set => _brokerAddresses = [value];
    }

    /// <summary>
    /// Every broker's gRPC address (http://host:port, all with the same scheme); the worker connects to one at a
    /// time, round-robin over those that answer. Setting it replaces <see cref="BrokerAddress"/>.
    /// </summary>
    public IReadOnlyList<Uri> BrokerAddresses
    {
        get => _brokerAddresses;
        set => _brokerAddresses = [.. value ?? throw new ArgumentNullException(nameof(value))];
    }

    /// <summary>
    /// The API key sent on the worker's stream as <c>Authorization: Bearer &lt;key&gt;</c>: configuration
    /// <c>Worker:ApiKey</c>, else <c>TaskQueue:ApiKey</c> (environment <c>Worker__ApiKey</c>, <c>TaskQueue__ApiKey</c>).
    /// It needs consume scope on every queue in <see cref="Queues"/>. Null: no key is sent. Ignored when
    /// <see cref="AccessTokenProvider"/> is set.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Gives the bearer token (a JWT from your identity provider) each time the worker connects. Wins over
    /// <see cref="ApiKey"/>. The broker closes a stream whose token expired at its next heartbeat; the worker then
    /// reconnects and asks for a token again, so return a fresh one. Null: the API key, if any, is sent.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? AccessTokenProvider { get; set; }

    /// <summary>
    /// A file to append one JSON line to whenever a handler starts or ends an attempt (<see cref="TaskExecutionRecord"/>):
    /// what this worker really ran, recorded apart from the broker. Unset: no log. Give each worker its own file.
    /// </summary>
    public string? ExecutionLog { get; set; }

    /// <summary>
    /// How an https:// broker's certificate is checked (custom CA) and the client certificate shown to it
    /// ("Worker:Tls", falling back to "TaskQueue:Tls").
    /// </summary>
    public WorkerTlsOptions Tls { get; set; } = new();

    internal static string CreateDefaultWorkerId() =>
        $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
}
