using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Runtime;

/// <summary>What the reader, the writer and the heartbeat of one connection attempt share.</summary>
internal sealed class SessionState(CancellationTokenSource stopWriting)
{
    private volatile bool _workerClosed;

    /// <summary>Completed by the reader with the broker's Welcome, or failed when the stream ends first.</summary>
    public TaskCompletionSource<Welcome> Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Cancelled when the broker drains: the writer completes the stream and takes nothing more.</summary>
    public CancellationTokenSource StopWriting { get; } = stopWriting;

    public string BrokerId { get; set; } = string.Empty;

    public TimeSpan HeartbeatInterval { get; set; } = HeartbeatLoop.DefaultInterval;

    public bool Welcomed { get; set; }

    public bool DrainingSent { get; set; }

    /// <summary>The broker takes several outcomes in one Outcomes message (its Welcome said so).</summary>
    public bool Batches { get; set; }

    public string? EndReason { get; set; }

    public Exception? Error { get; set; }

    /// <summary>The broker hung up after reading our end of stream: everything written was read.</summary>
    public bool ClosedCleanly { get; set; }

    /// <summary>The shutdown close marker was written: the worker is stopping and must not reconnect.</summary>
    public bool WorkerClosed
    {
        get => _workerClosed;
        set => _workerClosed = value;
    }

    public SessionEnd ToEnd() => new(Welcomed, WorkerClosed, EndReason, Error);
}

/// <summary>How one connection attempt ended, for the reconnect loop.</summary>
/// <param name="Welcomed">The broker answered Hello with Welcome.</param>
/// <param name="WorkerClosed">The worker closed the stream on shutdown: do not reconnect.</param>
/// <param name="Reason">Why the stream ended, when it ended without an error.</param>
/// <param name="Error">What broke the connection, if anything.</param>
internal sealed record SessionEnd(bool Welcomed, bool WorkerClosed, string? Reason, Exception? Error);
