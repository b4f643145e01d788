using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace TaskQueue.Broker.Sessions;

/// <summary>
/// The worker sessions connected to this broker, the one list of them: by worker id, where cancels and
/// quarantines find a worker's stream, and the sessions the dispatcher serves (from the moment it
/// attaches them, once their quarantine state is known). Two streams under one worker id are both
/// served; the later one is the one found by id.
/// </summary>
internal sealed class SessionRegistry
{
    private readonly ConcurrentDictionary<string, WorkerSession> _byWorker = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<WorkerSession, byte> _served = new();

    /// <summary>The sessions the dispatcher claims work for.</summary>
    public ICollection<WorkerSession> Served => _served.Keys;

    /// <summary>Makes the session findable by its worker id (before it gets any work).</summary>
    public void Register(WorkerSession session) => _byWorker[session.WorkerId] = session;

    /// <summary>The dispatcher serves the session from now on.</summary>
    public void Serve(WorkerSession session) => _served[session] = 0;

    /// <summary>The session ended: no more work, and its worker id is free unless a newer stream took it.</summary>
    public void Remove(WorkerSession session)
    {
        _served.TryRemove(session, out _);
        _byWorker.TryRemove(new KeyValuePair<string, WorkerSession>(session.WorkerId, session));
    }

    public bool TryGet(string workerId, [MaybeNullWhen(false)] out WorkerSession session) => _byWorker.TryGetValue(workerId, out session);
}
