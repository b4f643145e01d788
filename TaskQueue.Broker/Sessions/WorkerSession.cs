using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Sessions;

/// <summary>
/// One worker connection: its credits (free slots), the leases it holds, and the single outbox its
/// stream writer drains (the messages to the worker are built here, nowhere else but the stream's edge). Credits are reserved before a claim and committed after it, so the broker never
/// has more assignments outstanding to a worker than the worker has free slots.
/// </summary>
internal sealed class WorkerSession
{
    private readonly Lock _lock = new();
    private readonly Dictionary<TaskId, InFlightTask> _inFlight = [];
    private readonly HashSet<string> _starved = new(StringComparer.Ordinal);

    // Tasks whose lease this broker refused to renew (timed out) or that the worker lists as stuck: their handler
    // has not returned, so each holds a slot the worker does not reuse, and counts against its credit.
    private readonly HashSet<TaskId> _stuck = [];
    private readonly Channel<BrokerMessage> _outbox = Channel.CreateUnbounded<BrokerMessage>(
        new UnboundedChannelOptions { SingleReader = true });
    private int _reserved;
    private bool _closed;
    private long _completedSinceCheck;

    public WorkerSession(string workerId, IReadOnlyList<string> queues, IReadOnlyList<string> taskTypes, int concurrency, DateTimeOffset now)
    {
        WorkerId = workerId;
        Queues = queues;
        TaskTypes = taskTypes;
        TaskTypeSet = string.Concat(taskTypes.Order(StringComparer.Ordinal).Select(t => $"{t.Length}:{t}"));
        Concurrency = concurrency;
        ConnectedAt = now;
        LastSeen = now;
    }

    public string WorkerId { get; }
    public IReadOnlyList<string> Queues { get; }
    public IReadOnlyList<string> TaskTypes { get; }

    /// <summary>The task types as one ordinal key ("" for every type): workers with equal keys see the same tasks.</summary>
    public string TaskTypeSet { get; }
    public int Concurrency { get; }
    public DateTimeOffset ConnectedAt { get; }
    public DateTimeOffset LastSeen { get; set; }

    /// <summary>
    /// The broker is handling one of the worker's messages (a heartbeat waits for Redis): the stream is not read
    /// meanwhile, so that time is the broker's silence, not the worker's.
    /// </summary>
    public bool Handling { get; set; }

    /// <summary>The worker takes the tasks of one claim in one Assignments message.</summary>
    public bool Batches { get; init; }

    /// <summary>The identity that opened the session ("key:workers", ...): the worker id is bound to it.</summary>
    public string Owner { get; init; } = "";

    /// <summary>The worker process its Hello named ('' for none): a drain asked for between its connections holds for it.</summary>
    public string Instance { get; init; } = "";

    /// <summary>The worker is shutting down, or an operator drained it: it gets no new work.</summary>
    public bool Draining { get; set; }

    /// <summary>The worker let too many leases expire: it gets no new work until this time.</summary>
    public DateTimeOffset? QuarantinedUntil { get; set; }

    public bool IsQuarantined(DateTimeOffset now) => QuarantinedUntil is { } until && until > now;

    public ChannelReader<BrokerMessage> Outbox => _outbox.Reader;

    public int Busy
    {
        get
        {
            lock (_lock)
            {
                return _inFlight.Count;
            }
        }
    }

    public bool CanTakeWork(DateTimeOffset now) => !Draining && !IsQuarantined(now) && !_closed;

    /// <summary>Slots neither running a task, reserved by a claim in flight, nor held by a stuck handler (a snapshot).</summary>
    public int FreeSlots
    {
        get
        {
            lock (_lock)
            {
                return Math.Max(0, Concurrency - _inFlight.Count - _reserved - _stuck.Count);
            }
        }
    }

    /// <summary>
    /// Reserves up to <paramref name="max"/> free slots for a claim on <paramref name="queue"/>; returns
    /// how many. A queue turned away only because another queue's claim holds the slots is remembered, so
    /// that claim can wake it when it hands unused slots back.
    /// </summary>
    public int Reserve(string queue, int max)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return 0;
            }

            var free = Concurrency - _inFlight.Count - _reserved - _stuck.Count;
            var granted = Math.Clamp(free, 0, max);
            if (granted == 0 && _reserved > 0)
            {
                _starved.Add(queue);
            }

            _reserved += granted;
            return granted;
        }
    }

    /// <summary>
    /// Turns a reservation into assignments. Returns false, taking nothing, when the session closed
    /// while the claim ran: the caller hands those tasks back. <paramref name="starved"/> lists the queues
    /// that found no free slot while this reservation held them, now that some came back unused.
    /// </summary>
    public bool Commit(int reserved, IReadOnlyList<LeasedTask> tasks, DateTimeOffset now, out IReadOnlyList<string> starved)
    {
        lock (_lock)
        {
            _reserved -= reserved;
            starved = [];
            if (_closed)
            {
                return false;
            }

            if (tasks.Count < reserved && _starved.Count > 0)
            {
                starved = [.. _starved];
                _starved.Clear();
            }

            var batch = Batches && tasks.Count > 1 ? new Assignments() : null;
            foreach (var task in tasks)
            {
                _inFlight[task.Id] = new InFlightTask(
                    task.Id, task.LeaseToken, now,
                    new TaskTrace(task.Id, task.Type, task.Attempt, task.MaxAttempts, task.TraceParent, task.TraceState));
                if (batch is null)
                {
                    _outbox.Writer.TryWrite(new BrokerMessage { Assignment = ProtoMapping.ToAssignment(task) });
                }
                else
                {
                    batch.Tasks.Add(ProtoMapping.ToAssignment(task));
                }
            }

            if (batch is not null)
            {
                // One write (one HTTP/2 frame and flush) per claim rather than per task.
                _outbox.Writer.TryWrite(new BrokerMessage { Assignments = batch });
            }

            return true;
        }
    }

    /// <summary>Adopts a lease the worker still holds from before a reconnect.</summary>
    public void Adopt(TaskId id, string token, DateTimeOffset now)
    {
        lock (_lock)
        {
            _inFlight[id] = new InFlightTask(id, token, now, Trace: null);
        }
    }

    /// <summary>
    /// Redis renewed these leases no earlier than <paramref name="at"/>: each runs out no earlier than that plus the lease
    /// duration (the deadline a report of it is retried until while Redis is unreachable).
    /// </summary>
    public void Renewed(IEnumerable<LeaseRef> leases, DateTimeOffset at)
    {
        lock (_lock)
        {
            foreach (var lease in leases)
            {
                if (_inFlight.TryGetValue(lease.Id, out var task) && task.Token == lease.Token && task.RenewedAt < at)
                {
                    _inFlight[lease.Id] = task with { RenewedAt = at };
                }
            }
        }
    }

    /// <summary>
    /// The worker reported on the task under this lease (or lost it): its slot is free again. A report or renewal of an
    /// older lease of the same task frees nothing: the slot belongs to the lease the session holds now.
    /// </summary>
    public bool Release(TaskId id, string token)
    {
        lock (_lock)
        {
            return _inFlight.TryGetValue(id, out var task) && task.Token == token && _inFlight.Remove(id);
        }
    }

    /// <summary>The task as this session leased it, if it holds it under that token.</summary>
    public InFlightTask? Find(TaskId id, string token)
    {
        lock (_lock)
        {
            return _inFlight.TryGetValue(id, out var task) && task.Token == token ? task : null;
        }
    }

    /// <summary>The ids ("queue:id") of up to <paramref name="max"/> of the tasks the session holds leased now (a snapshot).</summary>
    public IReadOnlyList<string> RunningTaskIds(int max)
    {
        lock (_lock)
        {
            return [.. _inFlight.Keys.Take(max).Select(id => id.ToString())];
        }
    }

    /// <summary>Slots held by handlers that lost their lease and have not returned (<see cref="MarkStuck"/>).</summary>
    public int StuckSlots
    {
        get
        {
            lock (_lock)
            {
                return _stuck.Count;
            }
        }
    }

    /// <summary>
    /// The broker refused to renew the task's lease (it timed out): its handler still holds the slot, which
    /// stays taken until the worker's heartbeat no longer lists the task or a late report of it arrives.
    /// </summary>
    public void MarkStuck(TaskId id)
    {
        lock (_lock)
        {
            _inFlight.Remove(id);
            if (_stuck.Count < Concurrency)
            {
                _stuck.Add(id);
            }
        }
    }

    /// <summary>
    /// A heartbeat's view: the tasks it lists as stuck are (at most one per slot), and a task marked stuck
    /// earlier stays so while the heartbeat still lists it (as stuck, or as running when it was sent before the
    /// worker heard its lease was lost). Returns true when slots came free.
    /// </summary>
    public bool UpdateStuck(IReadOnlyCollection<TaskId> listedStuck, IReadOnlySet<TaskId> listedRunning)
    {
        lock (_lock)
        {
            var before = _stuck.Count;
            _stuck.RemoveWhere(id => !listedRunning.Contains(id) && !listedStuck.Contains(id));
            foreach (var id in listedStuck)
            {
                if (_stuck.Count >= Concurrency)
                {
                    break;
                }

                if (!_inFlight.ContainsKey(id))
                {
                    _stuck.Add(id);
                }
            }

            return _stuck.Count < before;
        }
    }

    /// <summary>A late report of a stuck task arrived: its handler returned, the slot is free. True when it was stuck.</summary>
    public bool ClearStuck(TaskId id)
    {
        lock (_lock)
        {
            return _stuck.Remove(id);
        }
    }

    /// <summary>Tasks the broker thinks the worker runs but that it left out of heartbeats sent after <paramref name="before"/>.</summary>
    public IReadOnlyList<InFlightTask> ForgetUnlisted(IReadOnlySet<TaskId> listed, DateTimeOffset before)
    {
        lock (_lock)
        {
            var forgotten = _inFlight.Values.Where(t => !listed.Contains(t.Id) && t.AssignedAt < before).ToList();
            foreach (var task in forgotten)
            {
                _inFlight.Remove(task.Id);
            }

            return forgotten;
        }
    }

    public void CountCompleted() => Interlocked.Increment(ref _completedSinceCheck);

    public long TakeCompletedCount() => Interlocked.Exchange(ref _completedSinceCheck, 0);

    /// <summary>The first message of a session: the broker's settings and the re-attached leases it could not renew.</summary>
    public void SendWelcome(string brokerId, TimeSpan leaseDuration, TimeSpan heartbeatInterval, IEnumerable<string> lostTaskIds, long maxResultBytes) =>
        Send(new BrokerMessage
        {
            Welcome = new Welcome
            {
                BrokerId = brokerId,
                LeaseDuration = Duration.FromTimeSpan(leaseDuration),
                HeartbeatInterval = Duration.FromTimeSpan(heartbeatInterval),
                LostTaskIds = { lostTaskIds },
                Batches = true,
                MaxResultBytes = maxResultBytes,
            },
        });

    /// <summary>Asks the worker to cancel the task's handler.</summary>
    public void SendCancel(string taskId) => Send(new BrokerMessage { Cancel = new CancelTask { TaskId = taskId } });

    /// <summary>Tells the worker the lease (<paramref name="token"/>) is no longer its own: it stops the task under that lease and reports nothing.</summary>
    public void SendLeaseLost(string taskId, string token, string reason) =>
        Send(new BrokerMessage { LeaseLost = new LeaseLost { TaskId = taskId, LeaseToken = token, Reason = reason } });

    /// <summary>Answers a checkpoint: stored, or refused with the reason.</summary>
    public void SendCheckpointSaved(string taskId, long sequence, bool accepted, string reason) =>
        Send(new BrokerMessage { CheckpointSaved = new CheckpointSaved { TaskId = taskId, Sequence = sequence, Accepted = accepted, Reason = reason } });

    /// <summary>This broker is stopping: the worker keeps its tasks and reconnects elsewhere.</summary>
    public void SendDrain() => Send(new BrokerMessage { Drain = new Drain() });

    /// <summary>An operator drained the worker: it takes no new tasks, finishes what it runs and stays connected.</summary>
    public void SendWorkerDrain() => Send(new BrokerMessage { WorkerDrain = new WorkerDrain() });

    private bool Send(BrokerMessage message) => _outbox.Writer.TryWrite(message);

    /// <summary>Closes the session; returns the leases it still held.</summary>
    public IReadOnlyList<InFlightTask> Close()
    {
        lock (_lock)
        {
            _closed = true;
            _outbox.Writer.TryComplete();
            var held = _inFlight.Values.ToList();
            _inFlight.Clear();
            return held;
        }
    }
}

/// <summary>A lease the worker holds; <paramref name="Trace"/> is unknown for leases re-attached after a reconnect.</summary>
internal sealed record InFlightTask(TaskId Id, string Token, DateTimeOffset AssignedAt, TaskTrace? Trace)
{
    /// <summary>When Redis last set the lease's deadline (at the latest): the claim, or the last renewal that succeeded.</summary>
    public DateTimeOffset RenewedAt { get; init; } = AssignedAt;
}
