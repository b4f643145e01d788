using Microsoft.Extensions.Options;
using TaskQueue.Client.Internal;

namespace TaskQueue.Client;

/// <summary>
/// Client settings, bound from the "TaskQueue" configuration section. Where the broker is, in order of
/// precedence (the first that is set wins):
/// <list type="number">
/// <item><description><see cref="BrokerAddress"/> or <see cref="BrokerAddresses"/> set in code (the <c>configure</c> delegate of <c>AddTaskQueueClient</c>);</description></item>
/// <item><description>configuration <c>TaskQueue:BrokerAddresses</c> (a list: <c>TaskQueue__BrokerAddresses__0</c>, ...) or
/// <c>TaskQueue:BrokerAddress</c> (environment <c>TaskQueue__BrokerAddress</c>);</description></item>
/// <item><description>the connection string <c>ConnectionStrings:taskqueue</c>, which an Aspire AppHost gives every project that
/// references its TaskQueue resource: one gRPC address, or several separated by commas;</description></item>
/// <item><description><see cref="DefaultBrokerAddress"/>, <c>http://_grpc.broker</c>: the broker's "grpc" endpoint found by
/// service discovery (Aspire's <c>services:broker:grpc</c> configuration).</description></item>
/// </list>
/// With several addresses, calls are spread over the brokers round-robin (a gRPC static resolver); a broker
/// that cannot be reached is skipped until it answers again.
/// </summary>
public sealed class TaskQueueClientOptions
{
    /// <summary>The configuration section the options are bound from: "TaskQueue".</summary>
    public const string SectionName = "TaskQueue";

    /// <summary>The name of the connection string that holds the broker address(es): "taskqueue".</summary>
    public const string ConnectionStringName = "taskqueue";

    /// <summary>The largest <see cref="BatchSize"/>.</summary>
    public const int MaxBatchSize = 10_000;

    /// <summary>Default broker address: the Aspire service-discovery name of the broker's "grpc" endpoint.</summary>
    public static readonly Uri DefaultBrokerAddress = new("http://_grpc.broker");

    private IReadOnlyList<Uri> _brokerAddresses = [DefaultBrokerAddress];

    /// <summary>
    /// The broker's gRPC address (http:// or https://); with several brokers, the first of
    /// <see cref="BrokerAddresses"/>. Setting it makes it the only address.
    /// </summary>
    public Uri BrokerAddress
    {
        get => _brokerAddresses.Count > 0 ? _brokerAddresses[0] : null!;
        set => _brokerAddresses = [value];
    }

    /// <summary>
    /// Every broker's gRPC address; calls are spread over them round-robin when there are several. Setting
    /// it replaces <see cref="BrokerAddress"/>. All must have the same scheme.
    /// </summary>
    public IReadOnlyList<Uri> BrokerAddresses
    {
        get => _brokerAddresses;
        set => _brokerAddresses = [.. value ?? throw new ArgumentNullException(nameof(value))];
    }

    /// <summary>
    /// The API key sent on every call as <c>Authorization: Bearer &lt;key&gt;</c> (configuration <c>TaskQueue:ApiKey</c>,
    /// environment <c>TaskQueue__ApiKey</c>). The broker's operator issues it (<c>taskqueue keys new</c>) with the
    /// scopes this client needs, e.g. <c>submit:orders</c> and <c>read:orders</c>. Null: no key is sent. Ignored when
    /// <see cref="AccessTokenProvider"/> is set.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// Gives the bearer token (a JWT from your identity provider) for each call, for tokens that expire and are
    /// refreshed: called before every call, so cache the token and renew it shortly before it expires. Wins over
    /// <see cref="ApiKey"/>. Null: the API key, if any, is sent.
    /// </summary>
    public Func<CancellationToken, ValueTask<string>>? AccessTokenProvider { get; set; }

    /// <summary>Deadline of each call (a Wait gets its own timeout on top).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tasks per SubmitBatch call.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How an https:// broker's certificate is checked (custom CA) and the client certificate shown to it ("TaskQueue:Tls").</summary>
    public TaskQueueClientTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Parses a connection string of one or more broker addresses separated by commas
    /// (<c>http://host:port</c>; blanks around them are ignored). Returns false, with the addresses it could
    /// not read in <paramref name="invalid"/>, unless every entry is an absolute http:// or https:// address.
    /// </summary>
    public static bool TryParseBrokerAddresses(string? connectionString, out IReadOnlyList<Uri> addresses, out IReadOnlyList<string> invalid)
    {
        var parsed = new List<Uri>();
        var bad = new List<string>();
        foreach (var entry in (connectionString ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (Uri.TryCreate(entry, UriKind.Absolute, out var address) && IsHttp(address))
            {
                parsed.Add(address);
            }
            else
            {
                bad.Add(entry);
            }
        }

        addresses = parsed;
        invalid = bad;
        return parsed.Count > 0 && bad.Count == 0;
    }

    internal static bool IsHttp(Uri address) => address.Scheme == Uri.UriSchemeHttp || address.Scheme == Uri.UriSchemeHttps;
}

internal sealed class TaskQueueClientOptionsValidator : IValidateOptions<TaskQueueClientOptions>
{
    public ValidateOptionsResult Validate(string? name, TaskQueueClientOptions options)
    {
        var failures = new List<string>();
        if (options.BrokerAddresses.Count == 0)
        {
            failures.Add("TaskQueue:BrokerAddress is not set.");
        }

        foreach (var address in options.BrokerAddresses)
        {
            if (address is not { IsAbsoluteUri: true } || !TaskQueueClientOptions.IsHttp(address))
            {
                failures.Add($"TaskQueue:BrokerAddress must be an absolute http:// or https:// address; it is '{address}'.");
            }
        }

        if (options.BrokerAddresses.Where(a => a is { IsAbsoluteUri: true }).Select(a => a.Scheme).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            failures.Add("The broker addresses mix http:// and https://; use one scheme for all.");
        }

        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            failures.Add("TaskQueue:RequestTimeout must be positive.");
        }

        if (options.BatchSize is < 1 or > TaskQueueClientOptions.MaxBatchSize)
        {
            failures.Add($"TaskQueue:BatchSize must be between 1 and {TaskQueueClientOptions.MaxBatchSize}.");
        }

        failures.AddRange(BrokerChannel.CheckTls(options));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
