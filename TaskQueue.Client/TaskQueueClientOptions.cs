using Microsoft.Extensions.Options;

namespace TaskQueue.Client;

/// <summary>Client settings, bound from the "TaskQueue" configuration section.</summary>
public sealed class TaskQueueClientOptions
{
    public const string SectionName = "TaskQueue";
    public const int MaxBatchSize = 10_000;

    /// <summary>Default broker address: the Aspire service-discovery name of the broker's "grpc" endpoint.</summary>
    public static readonly Uri DefaultBrokerAddress = new("http://_grpc.broker");

    public Uri BrokerAddress { get; set; } = DefaultBrokerAddress;

    /// <summary>Deadline of each call (a Wait gets its own timeout on top).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tasks per SubmitBatch call.</summary>
    public int BatchSize { get; set; } = 500;
}

internal sealed class TaskQueueClientOptionsValidator : IValidateOptions<TaskQueueClientOptions>
{
    public ValidateOptionsResult Validate(string? name, TaskQueueClientOptions options)
    {
        var failures = new List<string>();
        if (options.BrokerAddress is not { IsAbsoluteUri: true } address
            || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"TaskQueue:BrokerAddress must be an absolute http:// or https:// address; it is '{options.BrokerAddress}'.");
        }

        if (options.RequestTimeout <= TimeSpan.Zero)
        {
            failures.Add("TaskQueue:RequestTimeout must be positive.");
        }

        if (options.BatchSize is < 1 or > TaskQueueClientOptions.MaxBatchSize)
        {
            failures.Add($"TaskQueue:BatchSize must be between 1 and {TaskQueueClientOptions.MaxBatchSize}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
