using TaskQueue.Broker.Diagnostics;

namespace TaskQueue.Broker.Sessions;

/// <summary>
/// An operator's drain of one worker (DrainWorker) as this broker's sessions see it: the broker that takes the call drains
/// the worker's session here or publishes it to the others, and the registry's drain flag, read back by every heartbeat,
/// drains it where a publish did not arrive. A drained session gets no new work and its worker hears so (WorkerDrain).
/// </summary>
internal sealed class WorkerDrains(SessionRegistry sessions, ILogger<WorkerDrains> logger)
{
    /// <summary>Drains the worker's session on this broker, if it has one; true when it does.</summary>
    public bool TryDrain(string workerId)
    {
        if (!sessions.TryGet(workerId, out var session))
        {
            return false;
        }

        Drain(session);
        return true;
    }

    /// <summary>No new work for the session from now on, and its worker hears it; nothing again for a session already draining.</summary>
    public void Drain(WorkerSession session)
    {
        if (session.Draining)
        {
            return;
        }

        session.Draining = true;
        session.SendWorkerDrain();
        Log.WorkerDrainedByOperator(logger, session.WorkerId, session.Busy);
    }
}
