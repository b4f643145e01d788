using System.Globalization;
using System.Text;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// The fairness scenarios, on a broker with the store's defaults (priority max wait 10 s, disconnect grace 2 s,
/// retention 24 h so each task's times can be read afterwards): "priority-overload" (PriorityOverloadAsync) and
/// "redispatch" (RedispatchAsync). Workers run the built-in "sleep" handler, so their capacity is known: workers ×
/// slots ÷ the sleep.
/// </summary>
internal sealed partial class BenchRunner
{
    private const int FairnessSlots = 16;

    private async Task FairnessScenariosAsync(BrokerEndpoint? attached, CancellationToken cancellationToken)
    {
        var broker = attached ?? await system.StartBrokerAsync(s_latencyBroker, cancellationToken);
        if (settings.Includes("priority-overload"))
        {
            await PriorityOverloadAsync(broker, cancellationToken);
        }

        if (settings.Includes("redispatch"))
        {
            await RedispatchAsync(broker, cancellationToken);
        }

        if (attached is null)
        {
            await system.StopBrokerAsync(broker);
        }
    }

    /// <summary>
    /// Priority-9 work arrives at 1.25× the workers' capacity for 30 s (--overload-seconds); a sixth of the way in (a
    /// backlog has built up), five priority-0 tasks are submitted. Figures: the worst of the five's submit→start, and how many started while the
    /// overload lasted.
    /// </summary>
    private async Task PriorityOverloadAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-priority";
        const int Workers = 2;
        const int SleepMs = 50;
        var overload = settings.OverloadDuration;
        var lowAt = overload / 6;
        var rate = 1.25 * Workers * FairnessSlots * 1000 / SleepMs;
        var workers = await system.StartWorkersAsync(broker, Queue, Workers, redis, cancellationToken, FairnessSlots);
        var client = Client(broker);
        await Step($"priority-overload: priority 9 at {rate:N0} tasks/s (1.25x {Workers} workers x {FairnessSlots} slots of {SleepMs} ms sleeps) for {overload.TotalSeconds:0} s, five priority-0 tasks {lowAt.TotalSeconds:0.#} s in");
        var sleep = Encoding.UTF8.GetBytes(SleepMs.ToString(CultureInfo.InvariantCulture));
        for (var run = 0; run < settings.Runs; run++)
        {
            var completed = await CounterAsync(Queue, "completed", cancellationToken);
            var high = OfferAsync(client, Queue, rate, overload, sleep, priority: 9, cancellationToken);
            await Task.Delay(lowAt, time, cancellationToken);
            var low = await client.SubmitBatchAsync(
                [.. Enumerable.Range(0, 5).Select(_ => new TaskRequest { Queue = Queue, Type = "sleep", Payload = sleep, Priority = 0 })], cancellationToken);
            var offered = await high;
            var overloadEnd = UnixMicros() / 1000;
            await WaitForCounterAsync(Queue, "completed", completed + offered + low.Count, cancellationToken);
            var times = await TaskTimesAsync(Queue, [.. low.Select(r => r.TaskId)], cancellationToken);
            _report.Add("priority_overload.worst_start", "priority overload: worst submit->start of 5 priority-0 tasks (bound 10 s + a few claims)", "s",
                times.Max(t => t.Started - t.Created) / 1000.0);
            _report.Add("priority_overload.started_during", "priority overload: priority-0 tasks (of 5) started while it lasted", "tasks",
                times.Count(t => t.Started <= overloadEnd));
            _report.Add("priority_overload.offered", "priority overload: priority-9 rate actually offered", "tasks/s",
                offered / overload.TotalSeconds);
        }

        await system.StopWorkersAsync(workers);
    }

    /// <summary>
    /// Work arrives at the capacity of 4 workers (--fixed-workers, at least 2; sleeps of 100 ms) for 15 s (half the
    /// overload duration); a third of the way in, one worker is SIGKILLed (its connection breaks: its leases end after
    /// the disconnect grace). Figures: kill→restart of its tasks.
    /// </summary>
    private async Task RedispatchAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-redispatch";
        const int SleepMs = 100;
        var duration = settings.OverloadDuration / 2;
        var killAt = duration / 3;
        var count = Math.Max(2, settings.FixedWorkers);
        var rate = (double)count * FairnessSlots * 1000 / SleepMs;
        var client = Client(broker);
        await Step($"redispatch: {rate:N0} tasks/s (the capacity of {count} workers x {FairnessSlots} slots of {SleepMs} ms sleeps) for {duration.TotalSeconds:0.#} s, one worker SIGKILLed {killAt.TotalSeconds:0.#} s in");
        var sleep = Encoding.UTF8.GetBytes(SleepMs.ToString(CultureInfo.InvariantCulture));
        for (var run = 0; run < settings.Runs; run++)
        {
            var workers = await system.StartWorkersAsync(broker, Queue, count, redis, cancellationToken, FairnessSlots);
            var completed = await CounterAsync(Queue, "completed", cancellationToken);
            var ids = new List<string>();
            var load = OfferAsync(client, Queue, rate, duration, sleep, priority: 0, cancellationToken, ids);
            await Task.Delay(killAt, time, cancellationToken);
            var killedAt = UnixMicros() / 1000;
            workers[0].Kill();
            var offered = await load;
            await WaitForCounterAsync(Queue, "completed", completed + offered, cancellationToken);
            var restarts = (await TaskTimesAsync(Queue, ids, cancellationToken))
                .Where(t => t.Attempt > 1)
                .Select(t => (t.Started - killedAt) / 1000.0)
                .ToArray();
            if (restarts.Length == 0)
            {
                _report.Notes.Add("redispatch: the killed worker held no task (nothing restarted)");
            }
            else
            {
                _report.Add("redispatch.p50", "redispatch after SIGKILL under load: kill->restart p50 (disconnect grace 2 s)", "s", Quantile(restarts, 0.50));
                _report.Add("redispatch.p99", "redispatch after SIGKILL under load: kill->restart p99", "s", Quantile(restarts, 0.99));
                _report.Add("redispatch.tasks", "redispatch: tasks the killed worker held", "tasks", restarts.Length);
            }

            await system.StopWorkersAsync(workers);
        }
    }

    /// <summary>Submits sleep tasks at <paramref name="rate"/> per second (a batch every 20 ms) for <paramref name="duration"/>; returns how many.</summary>
    private async Task<int> OfferAsync(
        TaskQueueClient client, string queue, double rate, TimeSpan duration, byte[] payload, int priority, CancellationToken cancellationToken, List<string>? ids = null)
    {
        var sends = new List<Task<IReadOnlyList<SubmitResult>>>();
        var start = time.GetTimestamp();
        var sent = 0;
        using (var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20), time))
        {
            while (time.GetElapsedTime(start) < duration)
            {
                var due = (int)(time.GetElapsedTime(start).TotalSeconds * rate);
                if (due > sent)
                {
                    var size = Math.Min(due - sent, settings.Batch);
                    sends.Add(client.SubmitBatchAsync(
                        [.. Enumerable.Range(0, size).Select(_ => new TaskRequest { Queue = queue, Type = "sleep", Payload = payload, Priority = priority })], cancellationToken));
                    sent += size;
                }

                await timer.WaitForNextTickAsync(cancellationToken);
            }
        }

        foreach (var results in await Task.WhenAll(sends))
        {
            ids?.AddRange(results.Select(r => r.TaskId));
        }

        return sent;
    }

    private sealed record TaskTimes(long Created, long Started, int Attempt);

    /// <summary>Each task's created and (last attempt's) started time in ms and its attempt count, read from Redis.</summary>
    private async Task<List<TaskTimes>> TaskTimesAsync(string queue, IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var times = new List<TaskTimes>(ids.Count);
        foreach (var chunk in ids.Chunk(1000))
        {
            var commands = chunk
                .Select(id => new[] { "HMGET", $"tq:{{{queue}}}:t:{id[(id.LastIndexOf(':') + 1)..]}", "created", "started", "attempt" })
                .ToList();
            var replies = await redis.PipelineAsync(commands, cancellationToken);
            _ownCommands += commands.Count;
            foreach (var reply in replies)
            {
                var fields = (object?[])reply!;
                times.Add(new TaskTimes(
                    long.Parse((string)fields[0]!, CultureInfo.InvariantCulture),
                    long.Parse((string)fields[1]!, CultureInfo.InvariantCulture),
                    int.Parse((string)fields[2]!, CultureInfo.InvariantCulture)));
            }
        }

        return times;
    }
}
