using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Credit-based dispatch. One pump per queue claims work for the connected workers that have free
/// slots, each claim only of the task types its worker handles, and sleeps when no claim came back full
/// (the queue holds nothing more for the workers with credit) until a wake-up: a submit (here or,
/// through Redis pub/sub, on another broker), promoted work, a freed slot or a new worker. So ready work
/// of a type no worker with credit handles waits without a claim until such a worker connects or frees
/// a slot. No polling on the hot path; a slow re-check only guards against a lost wake-up.
/// A pump that wakes from sleep first claims for one worker of each set of task types only, the one with
/// the most free slots (equals take turns): a wake-up usually brings a few tasks, which one claim takes, so
/// the other workers' claims would only come back empty (one script call per worker per wake-up). Only when
/// a claim comes back full does the pump claim for every worker with free slots at once, until the queue is drained.
/// Work held back by flow control (a paused queue, a concurrency or rate limit: <see cref="ClaimHold"/>) needs no
/// poll either: the end of a lease or a resume is published like a submit, and a rate limit says when it admits more,
/// so the pump sleeps until then at most.
/// </summary>
internal sealed class Dispatcher(
    IClaimStore store,
    SessionRegistry sessions,
    IOptions<BrokerOptions> options,
    BrokerTelemetry telemetry,
    TimeProvider time,
    ILogger<Dispatcher> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, QueuePump> _pumps = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private readonly BrokerOptions _options = options.Value;
    private readonly IClaimStore _store = store;
    private readonly SessionRegistry _sessions = sessions;
    private readonly BrokerTelemetry _telemetry = telemetry;
    private readonly TimeProvider _time = time;
    private readonly ILogger _logger = logger;

    /// <summary>Serves a session from now on (it ends with <see cref="SessionRegistry.Remove"/>).</summary>
    public void Attach(WorkerSession session)
    {
        _sessions.Serve(session);
        foreach (var queue in session.Queues)
        {
            Pump(queue).Wake();
        }
    }

    /// <summary>Work arrived in a queue.</summary>
    public void NotifyWork(string queue)
    {
        if (_pumps.TryGetValue(queue, out var pump))
        {
            pump.Wake();
        }
    }

    /// <summary>A worker's slots freed up, or it came out of quarantine.</summary>
    public void NotifyCredit(WorkerSession session) => Wake(session.Queues);

    private void Wake(IEnumerable<string> queues)
    {
        foreach (var queue in queues)
        {
            if (_pumps.TryGetValue(queue, out var pump))
            {
                pump.Wake();
            }
        }
    }

    private QueuePump Pump(string queue) => _pumps.GetOrAdd(queue, q => new QueuePump(this, q));

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAll(_pumps.Values.Select(p => p.Completion));
        _stopping.Dispose();
    }

    private sealed class QueuePump
    {
        private readonly Dispatcher _owner;
        private readonly string _queue;
        private readonly AsyncSignal _signal = new();

        // Which of the workers with the most free slots the next single claim is for (they take turns).
        private int _turn;

        public QueuePump(Dispatcher owner, string queue)
        {
            _owner = owner;
            _queue = queue;
            // A loop for every caller: it must not run (and trace its Redis calls) inside the request that created it.
            using (ExecutionContext.SuppressFlow())
            {
                Completion = Task.Run(RunAsync);
            }
        }

        public Task Completion { get; }

        public void Wake() => _signal.Set();

        private async Task RunAsync()
        {
            var token = _owner._stopping.Token;
            var failures = 0;
            var mayHaveMore = false;
            TimeSpan? retryAfter = null;
            while (!token.IsCancellationRequested)
            {
                try
                {
                    // After a sleep (or at the start) one worker's claim finds out whether there is more than it takes.
                    var round = mayHaveMore ? await DispatchOnceAsync(token) : await DispatchToFewAsync(token);
                    (mayHaveMore, retryAfter) = (round.MayHaveMore, round.RetryAfter);
                    failures = 0;
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    // Redis unavailable or a script error: back off, then try again; nothing was lost.
                    failures++;
                    Log.DispatchFailed(_owner._logger, ex, _queue);
                    mayHaveMore = false;
                    retryAfter = null;
                    try
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 50 << Math.Min(failures, 6))), _owner._time, token);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }

                if (!mayHaveMore)
                {
                    try
                    {
                        var recheck = _owner._options.IdleRecheckInterval;
                        await _signal.WaitAsync(retryAfter < recheck ? retryAfter.Value : recheck, token, _owner._time);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        }

        /// <summary>
        /// Claims for one worker of each set of task types served (the one with the most free slots); true when
        /// the queue may hold more. Every worker of a set sees the same tasks, so no ready task is missed.
        /// </summary>
        private async Task<Round> DispatchToFewAsync(CancellationToken cancellationToken)
        {
            var now = _owner._time.GetUtcNow();
            var candidates = _owner._sessions.Served
                .Where(session => session.CanTakeWork(now) && session.Queues.Contains(_queue))
                .ToList();
            if (candidates.Count == 0)
            {
                return Round.Idle;
            }

            // Rotated before the (stable) sort, so workers with equal free slots take turns.
            var turn = (int)((uint)_turn++ % (uint)candidates.Count);
            var claims = new List<Task<Claimed>>();
            foreach (var kind in candidates.Skip(turn).Concat(candidates.Take(turn)).GroupBy(s => s.TaskTypeSet, StringComparer.Ordinal))
            {
                foreach (var session in kind.OrderByDescending(s => s.FreeSlots))
                {
                    var reserved = session.Reserve(_queue, _owner._options.MaxClaimBatch);
                    if (reserved > 0)
                    {
                        claims.Add(ClaimForAsync(session, reserved, cancellationToken));
                        break;
                    }
                }
            }

            var results = await Task.WhenAll(claims);
            return new Round(results.Any(r => r.Got == r.Asked && r.Asked > 0), Round.Earliest(results));
        }

        /// <summary>Claims for every worker with free slots at once; true when the queue may hold more.</summary>
        private async Task<Round> DispatchOnceAsync(CancellationToken cancellationToken)
        {
            var now = _owner._time.GetUtcNow();
            var claims = new List<Task<Claimed>>();
            foreach (var session in _owner._sessions.Served)
            {
                if (!session.CanTakeWork(now) || !session.Queues.Contains(_queue))
                {
                    continue;
                }

                var reserved = session.Reserve(_queue, _owner._options.MaxClaimBatch);
                if (reserved > 0)
                {
                    claims.Add(ClaimForAsync(session, reserved, cancellationToken));
                }
            }

            if (claims.Count == 0)
            {
                return Round.Idle;
            }

            var results = await Task.WhenAll(claims);
            return new Round(results.Sum(r => r.Got) == results.Sum(r => r.Asked), Round.Earliest(results));
        }

        private async Task<Claimed> ClaimForAsync(WorkerSession session, int reserved, CancellationToken cancellationToken)
        {
            ClaimResult claim;
            try
            {
                claim = await _owner._store.ClaimAsync(
                    _queue, session.WorkerId, session.TaskTypes, reserved, _owner._options.LeaseDuration, cancellationToken);
            }
            catch
            {
                session.Commit(reserved, [], _owner._time.GetUtcNow(), out var waiting);
                _owner.Wake(waiting);
                throw;
            }

            var now = _owner._time.GetUtcNow();
            if (claim.Expired > 0)
            {
                _owner._telemetry.Expired.Add(claim.Expired, BrokerTelemetry.QueueTag(_queue));
            }

            var committed = session.Commit(reserved, claim.Tasks, now, out var starved);
            // Slots this claim held but did not fill go to the worker's other queues at once, not after the idle re-check.
            _owner.Wake(starved);
            if (!committed)
            {
                // The worker went away while we claimed: hand the tasks straight back, no attempt counted.
                if (claim.Tasks.Count > 0)
                {
                    await _owner._store.ReleaseAsync(_queue, [.. claim.Tasks.Select(t => new LeaseRef(t.Id, t.LeaseToken))], CancellationToken.None);
                }

                return new Claimed(reserved, claim.Tasks.Count, claim.Hold.RetryAfter);
            }

            _owner._telemetry.Leased(_queue, session.WorkerId, claim.Tasks, now);

            return new Claimed(reserved, claim.Tasks.Count, claim.Hold.RetryAfter);
        }
    }

    /// <summary>One claim: slots asked for, tasks got, and when a rate limit that held work back admits more.</summary>
    private readonly record struct Claimed(int Asked, int Got, TimeSpan? RetryAfter);

    /// <summary>A pump's round of claims: whether the queue may hold more, and the earliest a rate limit admits more.</summary>
    private readonly record struct Round(bool MayHaveMore, TimeSpan? RetryAfter)
    {
        public static Round Idle => new(false, null);

        public static TimeSpan? Earliest(Claimed[] claims) =>
            claims.Where(c => c.RetryAfter is not null).Select(c => c.RetryAfter).Min();
    }
}
