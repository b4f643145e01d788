using Microsoft.Extensions.Options;

namespace TaskQueue.Worker.Runtime;

/// <summary>Normalizes the queue list: the binder cannot turn "a,b" into an array, and an empty list means "default".</summary>
internal sealed class WorkerOptionsSetup(IConfiguration configuration) : IPostConfigureOptions<WorkerOptions>
{
    public void PostConfigure(string? name, WorkerOptions options)
    {
        var queues = new List<string>(options.Queues ?? []);
        var raw = configuration[$"{WorkerOptions.SectionName}:{nameof(WorkerOptions.Queues)}"];
        if (!string.IsNullOrWhiteSpace(raw))
        {
            queues.Add(raw);
        }

        options.Queues = queues
            .SelectMany(queue => queue.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Distinct(StringComparer.Ordinal)
            .ToArray();
        if (options.Queues.Length == 0)
        {
            options.Queues = ["default"];
        }
    }
}

internal sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public const int MaxConcurrency = 1024;
    private static readonly TimeSpan MaxDrainTimeout = TimeSpan.FromHours(1);

    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.WorkerId))
        {
            failures.Add("Worker:WorkerId must not be empty.");
        }

        if (options.Concurrency is < 1 or > MaxConcurrency)
        {
            failures.Add($"Worker:Concurrency must be between 1 and {MaxConcurrency}; it is {options.Concurrency}.");
        }

        if (options.DrainTimeout < TimeSpan.Zero || options.DrainTimeout > MaxDrainTimeout)
        {
            failures.Add($"Worker:DrainTimeout must be between 0 and {MaxDrainTimeout}; it is {options.DrainTimeout}.");
        }

        if (options.Queues is not { Length: > 0 } || options.Queues.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("Worker:Queues must list at least one queue name, none of them blank.");
        }

        if (options.BrokerAddress is not { IsAbsoluteUri: true } address
            || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"Worker:BrokerAddress must be an absolute http:// or https:// address; it is '{options.BrokerAddress}'.");
        }

        failures.AddRange(Extensions.WorkerBrokerChannel.CheckTls(options));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
