namespace TaskQueue.Protocol;

/// <summary>
/// A worker's status as the broker's worker registry derives it, <c>GET /workers</c> reports it, the
/// <c>taskqueue.workers</c> gauge tags it and the dashboard shows it: the one place these words are spelled.
/// </summary>
internal static class WorkerStatuses
{
    /// <summary>Connected and running at least one task.</summary>
    public const string Busy = "busy";

    /// <summary>Connected with every slot free.</summary>
    public const string Idle = "idle";

    /// <summary>Connected but given no work until its quarantine ends (it let leases expire).</summary>
    public const string Quarantined = "quarantined";

    /// <summary>Connected but taking no new work: drained by an operator (DrainWorker) or shutting down.</summary>
    public const string Draining = "draining";

    /// <summary>Gone, or silent for longer than the broker's worker silence limit.</summary>
    public const string Disconnected = "disconnected";

    /// <summary>The statuses of connected workers, in the order the gauge reports them.</summary>
    public static IReadOnlyList<string> Connected { get; } = [Idle, Busy, Quarantined, Draining];
}
