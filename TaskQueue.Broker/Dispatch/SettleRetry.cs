using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// When a report that Redis did not settle is tried again: only when Redis was unreachable (the connection
/// failed or timed out, or Redis was loading, busy or not a writable primary, or a connection failed between the
/// report's script and the WAIT for its replicas) — a script error is the report's fault, and too few replicas
/// acknowledging in time is Redis's answer: both are final —, after a delay doubling from TaskQueue:Broker:SettleRetryDelay to SettleRetryMaxDelay,
/// and never past the report's lease deadline; at most SettleRetryMaxPending reports wait for another try at once.
/// </summary>
internal sealed class SettleRetry(IOptions<BrokerOptions> options)
{
    // Redis answered but cannot serve now: the same as unreachable for a report.
    private static readonly string[] s_transientReplies = ["LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "NOREPLICAS"];

    private readonly BrokerOptions _options = options.Value;
    private int _pending;

    /// <summary>Reports waiting for another try now.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>True when <paramref name="error"/> says Redis was unreachable, not that the report was wrong.</summary>
    public static bool IsTransient(Exception error) => error switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException => true,
        RedisServerException server => s_transientReplies.Any(code => server.Message.StartsWith(code, StringComparison.Ordinal)),
        // A connection failed between the write and its WAIT (a failover): whether a replica holds it is unknown; try it on the primary now.
        Storage.ReplicaAckException { Acks.Interrupted: true } => true,
        AggregateException { InnerExceptions: var inner } => inner.Count > 0 && inner.All(IsTransient),
        _ => false,
    };

    /// <summary>The wait before try number <paramref name="tries"/> + 1 (1 after the first failure).</summary>
    public TimeSpan DelayAfter(int tries)
    {
        var delay = _options.SettleRetryDelay * Math.Pow(2, Math.Clamp(tries - 1, 0, 30));
        return delay < _options.SettleRetryMaxDelay ? delay : _options.SettleRetryMaxDelay;
    }

    /// <summary>Takes up to <paramref name="wanted"/> places for reports waiting for another try; returns how many it got.</summary>
    public int TryHold(int wanted)
    {
        while (true)
        {
            var current = Volatile.Read(ref _pending);
            var granted = Math.Clamp(_options.SettleRetryMaxPending - current, 0, wanted);
            if (granted == 0 || Interlocked.CompareExchange(ref _pending, current + granted, current) == current)
            {
                return granted;
            }
        }
    }

    /// <summary>Reports that waited are being tried again (or given up): their places are free.</summary>
    public void Free(int count) => Interlocked.Add(ref _pending, -count);
}

/// <summary>A report Redis could not settle before its lease deadline (it was unreachable all along): the worker is told its lease is lost.</summary>
internal sealed class ReportNotSettledException(string message, Exception? inner) : Exception(message, inner);
