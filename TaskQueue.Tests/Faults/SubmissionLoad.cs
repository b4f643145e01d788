using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// The clients' side of the ledger: submits tasks (a steady load, or a given list) through the run's brokers in
/// turn and remembers what each call was told. Every task carries an idempotency key of its own, so a refused
/// submit that Redis stored all the same can be told apart afterwards. A refused submit is not retried.
/// </summary>
internal sealed class SubmissionLoad(TaskQueueCluster cluster)
{
    private const int SteadyBatch = 5;
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, string> _acknowledged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StatusCode> _refused = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<DateTimeOffset> _acknowledgedAt = new();
    // One channel per broker process: a channel to a killed broker backs off its reconnects (up to minutes), and
    // a broker restarted on the same port must be asked afresh, as a new client would.
    private readonly ConcurrentDictionary<int, TaskService.TaskServiceClient> _clients = new();
    private int _sequence;
    private int _turn;

    public int Attempted => Volatile.Read(ref _sequence);

    public IReadOnlyCollection<string> AcknowledgedIds => [.. _acknowledged.Values];

    /// <summary>Idempotency key → the status a refused submit got.</summary>
    public IReadOnlyDictionary<string, StatusCode> Refused => _refused;

    public IReadOnlyCollection<DateTimeOffset> AcknowledgedAt => _acknowledgedAt;

    /// <summary>Submits the tasks in one call; returns their ids, or none when the call was refused.</summary>
    public async Task<IReadOnlyList<string>> SubmitAsync(IReadOnlyList<TaskSpec> tasks, TaskQueueCluster.Broker? broker = null)
    {
        foreach (var task in tasks)
        {
            task.IdempotencyKey = "k" + Interlocked.Increment(ref _sequence);
        }

        var target = broker ?? cluster.Brokers[(int)((uint)Interlocked.Increment(ref _turn) % cluster.Brokers.Count)];
        var client = _clients.GetOrAdd(target.Process.Pid, _ => cluster.Client(target));
        try
        {
            var response = await client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { tasks } }, deadline: DateTime.UtcNow + CallTimeout);
            var now = DateTimeOffset.UtcNow;
            for (var i = 0; i < tasks.Count; i++)
            {
                _acknowledged[tasks[i].IdempotencyKey] = response.Results[i].TaskId;
                _acknowledgedAt.Enqueue(now);
            }

            return [.. response.Results.Select(r => r.TaskId)];
        }
        catch (RpcException ex)
        {
            foreach (var task in tasks)
            {
                _refused[task.IdempotencyKey] = ex.StatusCode;
            }

            return [];
        }
    }

    /// <summary>Submits <paramref name="perSecond"/> tasks a second, in small batches, without waiting for slow calls.</summary>
    public async Task RunAsync(Func<TaskSpec> next, double perSecond, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var interval = TimeSpan.FromSeconds(SteadyBatch / perSecond);
        var calls = new List<Task>();
        var clock = Stopwatch.StartNew();
        var due = TimeSpan.Zero;
        while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
        {
            calls.Add(SubmitAsync([.. Enumerable.Range(0, SteadyBatch).Select(_ => next())]));
            due += interval;
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, CancellationToken.None);
            }
        }

        await Task.WhenAll(calls);
    }
}
