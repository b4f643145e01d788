using TaskQueue.Client.Internal;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Client;

/// <summary>Flow control: pause and resume a queue, its concurrency and rate limits, its groups' limits.</summary>
public sealed partial class TaskQueueClient
{
    /// <summary>
    /// Pauses a queue for every broker until <see cref="ResumeQueueAsync"/>: submits are still accepted, nothing new
    /// starts, running tasks finish. Held in Redis (survives broker restarts). Needs admin scope; audited.
    /// </summary>
    public async Task<QueueFlowStatus> PauseQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return ProtocolMapper.ToFlow(await _client.PauseQueueAsync(new PauseQueueRequest { Queue = queue }, CallOptions(cancellationToken)));
    }

    /// <summary>Resumes a paused queue: every broker dispatches its ready tasks at once. Needs admin scope; audited.</summary>
    public async Task<QueueFlowStatus> ResumeQueueAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return ProtocolMapper.ToFlow(await _client.ResumeQueueAsync(new ResumeQueueRequest { Queue = queue }, CallOptions(cancellationToken)));
    }

    /// <summary>
    /// Replaces a queue's limits (a limit left null is cleared). InvalidArgument for a value out of range (negative,
    /// NaN, a burst without a rate, ...). Needs admin scope; audited.
    /// </summary>
    public async Task<QueueFlowStatus> SetQueueLimitsAsync(string queue, QueueLimitSettings limits, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(limits);
        var request = new SetQueueLimitsRequest { Queue = queue, Limits = ProtocolMapper.ToProto(limits) };
        return ProtocolMapper.ToFlow(await _client.SetQueueLimitsAsync(request, CallOptions(cancellationToken)));
    }

    /// <summary>
    /// Sets one group's overrides of the queue's group limits (replacing earlier ones; "" is the group of tasks without
    /// one). ResourceExhausted past the most groups with overrides a queue holds (1,000 by default). Needs admin scope; audited.
    /// </summary>
    public async Task<QueueFlowStatus> SetGroupLimitsAsync(
        string queue, string group, GroupLimitSettings limits, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(limits);
        var request = new SetGroupLimitsRequest { Queue = queue, Group = group, Limits = ProtocolMapper.ToProto(limits) };
        return ProtocolMapper.ToFlow(await _client.SetGroupLimitsAsync(request, CallOptions(cancellationToken)));
    }

    /// <summary>Clears one group's overrides: the queue's group defaults apply to it again. Needs admin scope; audited.</summary>
    public async Task<QueueFlowStatus> ClearGroupLimitsAsync(string queue, string group, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentNullException.ThrowIfNull(group);
        var request = new ClearGroupLimitsRequest { Queue = queue, Group = group };
        return ProtocolMapper.ToFlow(await _client.ClearGroupLimitsAsync(request, CallOptions(cancellationToken)));
    }

    /// <summary>A queue's flow control now: paused, limits, group overrides, tasks leased, the rate's tokens. Needs read scope.</summary>
    public async Task<QueueFlowStatus> GetQueueFlowAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        return ProtocolMapper.ToFlow(await _client.GetQueueFlowAsync(new GetQueueFlowRequest { Queue = queue }, CallOptions(cancellationToken)));
    }
}
