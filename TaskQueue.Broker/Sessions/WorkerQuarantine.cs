using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Broker.Sessions;

/// <summary>
/// Quarantine as this broker's sessions see it: a reaper (this broker's or, over pub/sub, another's)
/// imposes it, the worker registry states it on every heartbeat, and a session whose quarantine ended
/// gets work again at once. The decision to quarantine is the reaper's; the record of it is the registry's.
/// </summary>
internal sealed class WorkerQuarantine(SessionRegistry sessions, Dispatcher dispatcher, TimeProvider time, ILogger<WorkerQuarantine> logger)
{
    /// <summary>A reaper quarantined the worker: its session here, if any, gets no work until then.</summary>
    public void Impose(string workerId, DateTimeOffset until)
    {
        if (sessions.TryGet(workerId, out var session) && !session.IsQuarantined(time.GetUtcNow()))
        {
            session.QuarantinedUntil = until;
            Log.WorkerQuarantined(logger, workerId, until);
        }
    }

    /// <summary>The registry's quarantine deadline as of a heartbeat at <paramref name="now"/>; a quarantine that ended wakes dispatch.</summary>
    public void Refresh(WorkerSession session, DateTimeOffset? until, DateTimeOffset now)
    {
        var wasQuarantined = session.IsQuarantined(now);
        session.QuarantinedUntil = until;
        if (wasQuarantined && !session.IsQuarantined(now))
        {
            dispatcher.NotifyCredit(session);
        }
    }
}
