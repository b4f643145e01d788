using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Diagnostics;

namespace TaskQueue.Broker.Storage;

/// <summary>How many replicas acknowledged a write, of how many <c>TaskQueue:Store:AckReplicas</c> wants.</summary>
/// <param name="PrimaryFsynced">WAITAOF only: the primary's own append-only file holds the write (WAIT: always true).</param>
/// <param name="Interrupted">A connection failed between the write and its WAIT: what WAIT answered may not be about the write, so nothing counts.</param>
public readonly record struct ReplicaAcks(int Wanted, int Acknowledged, bool PrimaryFsynced = true, bool Interrupted = false)
{
    /// <summary>Enough replicas hold the write (always, when none is wanted).</summary>
    public bool Enough => Wanted == 0 || (!Interrupted && PrimaryFsynced && Acknowledged >= Wanted);

    public override string ToString() => $"{Acknowledged} of {Wanted}";
}

/// <summary>The command that waits for replicas: WAIT (replicas received the write), or WAITAOF (their append-only files hold it: Redis 7.2+).</summary>
public enum ReplicaAckCommand
{
    Wait,
    WaitAof,
}

/// <summary>Reads the replies of WAIT and WAITAOF, and chooses between them from INFO: the one place they are read.</summary>
public static class ReplicaAckReplies
{
    /// <summary>
    /// WAITAOF when the primary runs Redis 7.2 or newer with its append-only file on (WAITAOF refuses to count the
    /// primary's own fsync without one); WAIT otherwise. <paramref name="info"/> is the text of <c>INFO server</c>
    /// and <c>INFO persistence</c>.
    /// </summary>
    public static ReplicaAckCommand Choose(string info)
    {
        var fields = info.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(':', 2))
            .Where(pair => pair.Length == 2)
            .GroupBy(pair => pair[0], StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First()[1], StringComparer.Ordinal);
        var version = fields.TryGetValue("redis_version", out var text) && Version.TryParse(text, out var parsed) ? parsed : new Version(0, 0);
        var aof = fields.TryGetValue("aof_enabled", out var enabled) && enabled == "1";
        return version >= new Version(7, 2) && aof ? ReplicaAckCommand.WaitAof : ReplicaAckCommand.Wait;
    }

    /// <summary>WAIT's reply: the number of replicas that acknowledged.</summary>
    public static ReplicaAcks FromWait(RedisResult reply, int wanted) => new(wanted, (int)(long)reply);

    /// <summary>WAITAOF's reply: [primary fsynced (0 or 1), replicas whose AOF holds the write].</summary>
    public static ReplicaAcks FromWaitAof(RedisResult reply, int wanted)
    {
        var counts = (RedisResult[])reply!;
        if (counts.Length != 2)
        {
            throw new InvalidOperationException($"WAITAOF answered {counts.Length} numbers, not 2.");
        }

        return new ReplicaAcks(wanted, (int)(long)counts[1], PrimaryFsynced: (long)counts[0] >= 1);
    }
}

/// <summary>
/// A write the primary took but fewer replicas than <c>TaskQueue:Store:AckReplicas</c> acknowledged within
/// <c>AckTimeout</c>: it exists on the primary, and a failover now may lose it. Never an OK: a submit answers
/// UNAVAILABLE with the stored task ids, a completion is not counted as settled.
/// </summary>
public sealed class ReplicaAckException(string operation, ReplicaAcks acks, TimeSpan timeout, IReadOnlyList<EnqueueResult>? stored = null)
    : Exception($"Stored on the primary, acknowledged by {acks} replicas within {timeout.TotalMilliseconds:0} ms"
                + (acks.Interrupted ? " (the connection failed meanwhile)" : "") + $" ({operation}): a failover now may lose it.")
{
    /// <summary>"submit" or "complete".</summary>
    public string Operation { get; } = operation;

    public ReplicaAcks Acks { get; } = acks;

    public TimeSpan Timeout { get; } = timeout;

    /// <summary>A submit's results (input order): the tasks exist on the primary. Empty for a completion.</summary>
    public IReadOnlyList<EnqueueResult> Stored { get; } = stored ?? [];

    /// <summary>The same shortfall for some of the stored tasks (one caller's part of a batch).</summary>
    public ReplicaAckException For(IReadOnlyList<EnqueueResult> part) => new(Operation, Acks, Timeout, part);
}

/// <summary>
/// Waits after a write until <c>TaskQueue:Store:AckReplicas</c> replicas hold it: <c>WAIT N timeout</c> (or
/// <c>WAITAOF 1 N timeout</c> where the primary has it), on the multiplexer's one interactive connection to the
/// primary that took the write, after the write's reply. WAIT counts everything that connection wrote before it, so
/// one WAIT after a batch of scripts covers the whole batch. On a single Redis (or through Sentinel) that is the one
/// primary; on a Redis Cluster a batch's queues may live on several primaries, and a keyless WAIT would go to any of
/// them (one that may have taken none of the batch and answer at once): there the WAIT goes to each primary that serves
/// one of the written queues' slots (<see cref="IConnectionMultiplexer.GetServer(RedisKey, object?, CommandFlags)"/>),
/// all at once, and the batch counts the fewest replicas any of them reported. When a connection of the multiplexer
/// failed between the write and the WAIT (a failover: the WAIT may run on another connection, even another primary,
/// that never saw the write) the answer is "interrupted", never enough. With AckReplicas 0 it sends nothing.
/// </summary>
public sealed class ReplicaAcknowledger
{
    /// <summary>The key of the one primary of a single Redis (or a Sentinel's) in the detection cache.</summary>
    private static readonly EndPoint s_primary = new DnsEndPoint("primary", 0);

    private readonly IConnectionMultiplexer _redis;
    private readonly int _wanted;
    private readonly TimeSpan _timeout;
    private readonly BrokerTelemetry? _telemetry;
    private readonly ConcurrentDictionary<EndPoint, Detected> _detected = new();
    private long _failures;

    public ReplicaAcknowledger(
        IConnectionMultiplexer redis, IOptions<TaskStoreOptions> options, BrokerTelemetry? telemetry = null, ILogger<ReplicaAcknowledger>? logger = null)
    {
        _redis = redis;
        _wanted = options.Value.AckReplicas;
        _timeout = options.Value.AckTimeout;
        _telemetry = telemetry;
        if (_wanted > 0)
        {
            redis.ConnectionFailed += (_, _) => Interlocked.Increment(ref _failures);
            if (logger is not null)
            {
                Log.ReplicaAcksOn(logger, _wanted, _timeout.TotalMilliseconds);
            }
        }
    }

    /// <summary>How many replicas a write waits for (0: none, nothing is sent).</summary>
    public int Wanted => _wanted;

    /// <summary>Taken before a write and handed to <see cref="WaitAsync"/>: the connection failures so far.</summary>
    public long Epoch => Volatile.Read(ref _failures);

    /// <summary>
    /// Waits until the replicas hold what was written to <paramref name="queues"/> (at most AckTimeout); throws
    /// <see cref="ReplicaAckException"/> (and counts it) when too few did. <paramref name="epoch"/>: <see cref="Epoch"/> before the write.
    /// </summary>
    public async Task ConfirmAsync(
        IDatabase db, IEnumerable<string> queues, long epoch, string operation, int tasks, IReadOnlyList<EnqueueResult>? stored = null)
    {
        if (_wanted == 0)
        {
            return;
        }

        var acks = await WaitAsync(db, queues, epoch);
        if (!acks.Enough)
        {
            _telemetry?.ShortReplicaAcks.Add(tasks, new KeyValuePair<string, object?>("operation", operation));
            throw new ReplicaAckException(operation, acks, _timeout, stored);
        }
    }

    /// <summary>What the replicas acknowledged of the writes to <paramref name="queues"/>: the fewest of any primary written to.</summary>
    public async Task<ReplicaAcks> WaitAsync(IDatabase db, IEnumerable<string> queues, long epoch)
    {
        ReplicaAcks acks;
        if (RedisKeySpace.Of(_redis).IsCluster)
        {
            var primaries = queues
                .Select(queue => _redis.GetServer(RedisKeys.QueuePrefix(queue), flags: CommandFlags.DemandMaster))
                .DistinctBy(server => server.EndPoint)
                .ToList();
            var each = await Task.WhenAll(primaries.Select(server => WaitOnAsync(
                server.EndPoint, (command, args) => server.ExecuteAsync(command, args, CommandFlags.DemandMaster))));
            acks = each.Length == 0 ? new ReplicaAcks(_wanted, _wanted) : each.MinBy(a => (a.PrimaryFsynced ? 1 : 0, a.Acknowledged));
        }
        else
        {
            acks = await WaitOnAsync(s_primary, (command, args) => db.ExecuteAsync(command, args, CommandFlags.DemandMaster));
        }

        return Epoch == epoch ? acks : acks with { Interrupted = true };
    }

    private async Task<ReplicaAcks> WaitOnAsync(EndPoint primary, Func<string, object[], Task<RedisResult>> execute)
    {
        var command = await CommandAsync(primary, execute);
        var timeoutMs = ((long)_timeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        return command == ReplicaAckCommand.WaitAof
            ? ReplicaAckReplies.FromWaitAof(await execute("WAITAOF", [1, _wanted, timeoutMs]), _wanted)
            : ReplicaAckReplies.FromWait(await execute("WAIT", [_wanted, timeoutMs]), _wanted);
    }

    /// <summary>WAIT or WAITAOF, read from the primary's INFO once, and again after a connection failed (a new primary may run another version).</summary>
    private async Task<ReplicaAckCommand> CommandAsync(EndPoint primary, Func<string, object[], Task<RedisResult>> execute)
    {
        var epoch = Epoch;
        if (_detected.TryGetValue(primary, out var known) && known.Epoch == epoch)
        {
            return known.Command;
        }

        var server = (string?)await execute("INFO", ["server"]) ?? "";
        var persistence = (string?)await execute("INFO", ["persistence"]) ?? "";
        var chosen = ReplicaAckReplies.Choose(server + "\n" + persistence);
        _detected[primary] = new Detected(chosen, epoch);
        return chosen;
    }

    /// <summary>The command chosen, and the connection failures counted when it was.</summary>
    private sealed record Detected(ReplicaAckCommand Command, long Epoch);
}
