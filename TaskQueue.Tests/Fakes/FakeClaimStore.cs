using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Fakes;

/// <summary>The dispatcher's Redis, in memory: ready tasks per queue, and a log of who claimed.</summary>
internal sealed class FakeClaimStore : IClaimStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Queue<LeasedTask>> _ready = new(StringComparer.Ordinal);
    private readonly List<(string Queue, string WorkerId, int Max)> _claims = [];

    /// <summary>Every claim so far: queue, worker, how many it asked for.</summary>
    public IReadOnlyList<(string Queue, string WorkerId, int Max)> Claims
    {
        get
        {
            lock (_lock)
            {
                return [.. _claims];
            }
        }
    }

    /// <summary>What every claim reports flow control held back (as the claim script's third reply value would).</summary>
    public ClaimHold Hold { get; set; } = ClaimHold.None;

    /// <summary>Makes a task ready without waking anyone (as a lost pub/sub message would).</summary>
    public LeasedTask AddReady(string queue, string type = "test")
    {
        var task = LeasedTasks.New(queue, type);
        lock (_lock)
        {
            if (!_ready.TryGetValue(queue, out var ready))
            {
                _ready[queue] = ready = new Queue<LeasedTask>();
            }

            ready.Enqueue(task);
        }

        return task;
    }

    public Task<ClaimResult> ClaimAsync(
        string queue, string workerId, IReadOnlyList<string> taskTypes, int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        var tasks = new List<LeasedTask>();
        lock (_lock)
        {
            _claims.Add((queue, workerId, max));
            if (_ready.TryGetValue(queue, out var ready))
            {
                // Tasks of types the worker does not handle keep their places, as in the lanes of the claim script.
                var others = new List<LeasedTask>();
                while (ready.TryDequeue(out var task))
                {
                    var handled = taskTypes.Count == 0 || taskTypes.Contains(task.Type, StringComparer.Ordinal);
                    (handled && tasks.Count < max ? tasks : others).Add(task);
                }

                foreach (var task in others)
                {
                    ready.Enqueue(task);
                }
            }
        }

        return Task.FromResult(new ClaimResult(tasks, Promoted: 0, Expired: 0) { Hold = Hold });
    }

    public Task<IReadOnlyList<TransitionResult>> ReleaseAsync(string queue, IReadOnlyList<LeaseRef> leases, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<TransitionResult>>([.. leases.Select(_ => TransitionResult.Ok)]);
}
