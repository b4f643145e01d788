namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Outcomes a broken connection may not have delivered. A write only means the bytes left this process: a dead
/// broker goes unnoticed for up to the keepalive delay plus timeout, so outcomes written within
/// <see cref="Window"/> before a connection broke are offered again. The next connection lists their tasks in
/// Hello and sends them first; the broker's Welcome names those it already settled as lost, and they are dropped.
/// Outcomes written on a connection the broker closed cleanly (it read everything) are forgotten.
/// </summary>
/// <remarks>Used by whichever connection is current, so every member takes the lock.</remarks>
internal sealed class ResendBuffer(TimeProvider timeProvider)
{
    /// <summary>How recent a write must be to be offered again after a broken connection.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(15);

    /// <summary>At most this many outcomes of one connection are kept (the oldest go first).</summary>
    public const int Capacity = 4096;

    private readonly Lock _gate = new();

    // Outcomes written (or being written) on the current connection, oldest first, recent ones only.
    private readonly Queue<(OutcomeItem Outcome, long WrittenAt)> _written = new();

    // Offered again: to be written first on the next connection.
    private readonly List<OutcomeItem> _unsent = [];

    /// <summary>Records an outcome about to be written on the current connection; one without an execution holds no lease and is never re-sent.</summary>
    public void Track(OutcomeItem outcome)
    {
        if (outcome.Execution is null)
        {
            return;
        }

        lock (_gate)
        {
            var now = timeProvider.GetTimestamp();
            _written.Enqueue((outcome, now));
            while (_written.Count > Capacity
                   || (_written.TryPeek(out var oldest) && timeProvider.GetElapsedTime(oldest.WrittenAt, now) > Window))
            {
                _written.Dequeue();
            }
        }
    }

    /// <summary>At the start of a connection: the outcomes to write before anything else. The buffer lets go of them.</summary>
    public OutcomeItem[] TakeUnsent()
    {
        lock (_gate)
        {
            var unsent = _unsent.ToArray();
            _unsent.Clear();
            return unsent;
        }
    }

    /// <summary>A re-send broke off: these were not written and wait for the next connection.</summary>
    public void ReturnUnsent(IEnumerable<OutcomeItem> outcomes)
    {
        lock (_gate)
        {
            _unsent.AddRange(outcomes);
        }
    }

    /// <summary>
    /// A connection ended. Unless the broker read everything (<paramref name="readByBroker"/>), the outcomes written
    /// on it within the window whose lease was not lost are kept for the next connection; their executions are
    /// returned, so the worker holds their leases again until the re-send.
    /// </summary>
    public IReadOnlyList<TaskExecution> ConnectionEnded(bool readByBroker)
    {
        lock (_gate)
        {
            if (readByBroker)
            {
                _written.Clear();
                return [];
            }

            var now = timeProvider.GetTimestamp();
            var offered = new List<TaskExecution>();
            foreach (var (outcome, writtenAt) in _written)
            {
                if (outcome.Execution is { IsDiscarded: false } execution && timeProvider.GetElapsedTime(writtenAt, now) <= Window)
                {
                    offered.Add(execution);
                    _unsent.Add(outcome);
                }
            }

            _written.Clear();
            return offered;
        }
    }
}
