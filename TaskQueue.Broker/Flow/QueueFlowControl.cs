using System.Globalization;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Flow;

/// <summary>
/// An operator's flow control of a queue (the flow RPCs, the CLI's <c>queue pause|resume|limits|flow</c>): checks
/// the request, changes the settings in Redis (<see cref="RedisFlowStore"/>, which wakes every broker's dispatchers
/// when held work may go), logs who did it, and answers the queue's flow control after the change. Enforcement is in
/// the scripts (claim.lua through lib/flow.lua), so it holds for every broker and across restarts.
/// </summary>
internal sealed class QueueFlowControl(RedisFlowStore store, ILogger<QueueFlowControl> logger)
{
    public async Task<QueueFlowState> PauseAsync(string queue, string identity, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        if (await store.PauseAsync(queue, cancellationToken))
        {
            Log.QueuePaused(logger, queue, identity);
        }

        return await store.GetAsync(queue, cancellationToken);
    }

    public async Task<QueueFlowState> ResumeAsync(string queue, string identity, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        if (await store.ResumeAsync(queue, cancellationToken))
        {
            Log.QueueResumed(logger, queue, identity);
        }

        return await store.GetAsync(queue, cancellationToken);
    }

    public async Task<QueueFlowState> SetLimitsAsync(string queue, FlowLimits limits, string identity, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        await store.SetLimitsAsync(queue, limits, cancellationToken);
        Log.QueueLimitsSet(logger, queue, identity, Describe(FlowValidation.Validate(limits)));
        return await store.GetAsync(queue, cancellationToken);
    }

    public async Task<QueueFlowState> SetGroupLimitsAsync(
        string queue, string group, GroupFlowLimits limits, string identity, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        await store.SetGroupLimitsAsync(queue, group, limits, cancellationToken);
        Log.GroupLimitsSet(logger, queue, group, identity, Describe(FlowValidation.Validate(limits)));
        return await store.GetAsync(queue, cancellationToken);
    }

    public async Task<QueueFlowState> ClearGroupLimitsAsync(string queue, string group, string identity, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        if (await store.ClearGroupLimitsAsync(queue, group, cancellationToken))
        {
            Log.GroupLimitsCleared(logger, queue, group, identity);
        }

        return await store.GetAsync(queue, cancellationToken);
    }

    public Task<QueueFlowState> GetAsync(string queue, CancellationToken cancellationToken) => store.GetAsync(queue, cancellationToken);

    /// <summary>Limits as one line for logs and the audit trail ("concurrency 3, rate 5/s burst 10"; "no limits").</summary>
    public static string Describe(FlowLimits limits)
    {
        var parts = new List<string>();
        Add(parts, "concurrency", limits.Concurrency, limits.Rate, limits.Burst);
        Add(parts, "group concurrency", limits.GroupConcurrency, limits.GroupRate, limits.GroupBurst);
        return parts.Count == 0 ? "no limits" : string.Join(", ", parts);
    }

    /// <summary>A group's overrides as one line ("concurrency 1"; "the queue's defaults").</summary>
    public static string Describe(GroupFlowLimits limits)
    {
        var parts = new List<string>();
        Add(parts, "concurrency", limits.Concurrency, limits.Rate, limits.Burst);
        return parts.Count == 0 ? "the queue's defaults" : string.Join(", ", parts);
    }

    private static void Add(List<string> parts, string name, int? concurrency, double? rate, int? burst)
    {
        if (concurrency is { } c)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {c}"));
        }

        var prefix = name.EndsWith("group concurrency", StringComparison.Ordinal) ? "group " : "";
        if (rate is { } r)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}rate {FlowText.Of(r)}/s") + (burst is { } b ? string.Create(CultureInfo.InvariantCulture, $" burst {b}") : ""));
        }
        else if (burst is { } b)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{prefix}burst {b}"));
        }
    }
}
