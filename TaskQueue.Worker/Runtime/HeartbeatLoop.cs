using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Asks the connection's writer for a heartbeat at the cadence the broker's Welcome set. Independent of task
/// work: heartbeats only need the writer, which never waits on handlers.
/// </summary>
internal static class HeartbeatLoop
{
    /// <summary>The cadence when the Welcome gives neither a heartbeat interval nor a lease duration.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>The Welcome's interval; without one the contract's lease/3; without either a conservative default.</summary>
    public static TimeSpan IntervalFor(Welcome welcome)
    {
        var interval = welcome.HeartbeatInterval?.ToTimeSpan() ?? TimeSpan.Zero;
        var lease = welcome.LeaseDuration?.ToTimeSpan() ?? TimeSpan.Zero;
        if (interval <= TimeSpan.Zero)
        {
            interval = lease > TimeSpan.Zero ? lease / 3 : DefaultInterval;
        }

        return interval < MinimumInterval ? MinimumInterval : interval;
    }

    /// <summary>Runs until the connection ends (the token is cancelled).</summary>
    public static async Task RunAsync(OutboundQueue outbound, TimeSpan interval, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval, timeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            outbound.RequestHeartbeat();
        }
    }
}
