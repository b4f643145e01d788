using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>What the dispatcher needs from Redis (<see cref="RedisTaskStore"/>); the seam its unit tests fake.</summary>
internal interface IClaimStore
{
    /// <summary>
    /// Leases up to <paramref name="max"/> ready tasks of a queue to a worker, highest priority first, only of the
    /// <paramref name="taskTypes"/> it handles (empty: every type).
    /// </summary>
    Task<ClaimResult> ClaimAsync(string queue, string workerId, IReadOnlyList<string> taskTypes, int max, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>Hands leased tasks back unfinished; the attempt does not count.</summary>
    Task<IReadOnlyList<TransitionResult>> ReleaseAsync(string queue, IReadOnlyList<LeaseRef> leases, CancellationToken cancellationToken);
}
