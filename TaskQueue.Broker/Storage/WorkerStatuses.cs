namespace TaskQueue.Broker.Storage;

/// <summary>
/// A worker's status as <see cref="WorkerRegistry"/> derives it, <c>GET /workers</c> reports it and the
/// <c>taskqueue.workers</c> gauge tags it: the one place these words are spelled.
/// </summary>
public static class WorkerStatuses
{
    /// <summary>Connected and running at least one task.</summary>
    public const string Busy = "busy";

    /// <summary>Connected with every slot free.</summary>
    public const string Idle = "idle";

    /// <summary>Connected but given no work until its quarantine ends (it let leases expire).</summary>
    public const string Quarantined = "quarantined";

    /// <summary>Gone, or silent for longer than the broker's worker silence limit.</summary>
    public const string Disconnected = "disconnected";

    /// <summary>The statuses of connected workers, in the order the gauge reports them.</summary>
    public static IReadOnlyList<string> Connected { get; } = [Idle, Busy, Quarantined];
}
