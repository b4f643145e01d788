using System.Diagnostics;
using System.Globalization;
using System.Text;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// Runs the scenarios in an order that starts as few processes as possible: submit and backlog on one
/// broker without workers; drain with 1, 2, 4, 8 workers (added as it goes) and the retry path on it;
/// drain over two brokers; then latency on a broker that keeps finished tasks, so their times can be read.
/// </summary>
internal sealed partial class BenchRunner(BenchSettings settings, BenchSystem system, RespConnection redis, TextWriter log, TimeProvider time)
{
    private const string NoopType = "noop";
    private static readonly TimeSpan s_pollInterval = TimeSpan.FromMilliseconds(5);

    // The latency scenario's unrecorded open loop before its measured ones.
    private static readonly TimeSpan s_latencyWarmUp = TimeSpan.FromSeconds(2);

    // Finished tasks are deleted at once (retention 0), so memory must come back to its baseline after a
    // drain; retries back off 0 ms, so the retry path measures the queue, not the backoff.
    private static readonly Dictionary<string, string> s_drainBroker = new()
    {
        ["TaskQueue__Store__Retention"] = "00:00:00",
        ["TaskQueue__Store__BackoffInitial"] = "00:00:00",
    };

    // The default retention (24 h): the latency scenario reads each task's times after it finished.
    private static readonly Dictionary<string, string> s_latencyBroker = [];

    private readonly BenchReport _report = new();
    private readonly byte[] _payload = [.. Enumerable.Range(0, settings.PayloadBytes).Select(i => (byte)('a' + (i % 26)))];
    private readonly List<GrpcChannel> _channels = [];
    private long _ownCommands;

    public async Task<BenchReport> RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            var primary = settings.Attached ? new BrokerEndpoint(settings.Brokers[0], null, null) : await system.StartBrokerAsync(s_drainBroker, cancellationToken);
            if (settings.Includes("submit"))
            {
                await SubmitScenarioAsync(primary, cancellationToken);
            }

            if (settings.Includes("backlog"))
            {
                await BacklogScenarioAsync(primary, cancellationToken);
            }

            if (settings.Includes("drain") || settings.Includes("retry"))
            {
                await DrainScenariosAsync(primary, cancellationToken);
            }

            if (settings.Includes("flow"))
            {
                await FlowScenarioAsync(primary, cancellationToken); // FlowScenario.cs
            }

            if (settings.Includes("pair"))
            {
                await PairScenarioAsync(primary, cancellationToken);
            }

            await system.StopWorkersAsync(system.Workers);
            if (settings.Includes("latency"))
            {
                var latencyBroker = settings.Attached ? primary : await system.StartBrokerAsync(s_latencyBroker, cancellationToken);
                if (!settings.Attached)
                {
                    await system.StopBrokerAsync(primary);
                }

                await LatencyScenarioAsync(latencyBroker, cancellationToken);
                primary = latencyBroker;
            }

            if (settings.Includes("idle-queues"))
            {
                if (!settings.Attached)
                {
                    await system.StopBrokerAsync(primary); // the scenario's broker must be the only one
                }

                await new IdleQueuesScenario(settings, system, redis, _report, log, time).RunAsync(cancellationToken);
            }

            if (settings.Includes("priority-overload") || settings.Includes("redispatch"))
            {
                await FairnessScenariosAsync(settings.Attached ? primary : null, cancellationToken); // FairnessScenarios.cs
            }

            if (settings.Includes("shards"))
            {
                await ShardsScenarioAsync(cancellationToken); // ShardsScenario.cs
            }

            return _report;
        }
        finally
        {
            foreach (var channel in _channels)
            {
                channel.Dispose();
            }
        }
    }

    // ---- scenarios ----

    private async Task SubmitScenarioAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-submit";
        var client = Client(broker);
        await Step($"submit: {settings.SingleTasks:N0} single submits ({settings.SubmitConcurrency} at a time), {settings.Tasks:N0} in batches of {settings.Batch}");
        await SubmitSinglesAsync(client, Queue, Math.Min(1000, settings.SingleTasks), cancellationToken);
        await DeleteQueueAsync(Queue, cancellationToken);
        for (var run = 0; run < settings.Runs; run++)
        {
            var started = time.GetTimestamp();
            await SubmitSinglesAsync(client, Queue, settings.SingleTasks, cancellationToken);
            _report.Add("submit.single", $"submit: single Submit calls, {settings.SubmitConcurrency} concurrent", "tasks/s",
                settings.SingleTasks / time.GetElapsedTime(started).TotalSeconds);

            started = time.GetTimestamp();
            await SubmitBatchesAsync([client], Queue, NoopType, _payload, settings.Tasks, cancellationToken);
            _report.Add("submit.batch", $"submit: SubmitBatch of {settings.Batch}, {settings.InFlight} in flight", "tasks/s",
                settings.Tasks / time.GetElapsedTime(started).TotalSeconds);
            await DeleteQueueAsync(Queue, cancellationToken);
        }
    }

    private async Task BacklogScenarioAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-backlog";
        await Step($"backlog: {settings.Backlog:N0} queued tasks ({settings.PayloadBytes}-byte payloads), no workers");
        var client = Client(broker);
        var samples = Math.Clamp(settings.Backlog / 100_000, 1, 10);
        var step = settings.Backlog / samples;
        for (var run = 0; run < settings.Runs; run++)
        {
            var before = await InfoAsync(cancellationToken);
            var rssBefore = broker.Process?.ResidentBytes() ?? 0;
            var rssMax = rssBefore;
            var submitted = 0;
            while (submitted < settings.Backlog)
            {
                var count = Math.Min(step, settings.Backlog - submitted);
                await SubmitBatchesAsync([client], Queue, NoopType, _payload, count, cancellationToken);
                submitted += count;
                rssMax = Math.Max(rssMax, broker.Process?.ResidentBytes() ?? 0);
            }

            var full = await InfoAsync(cancellationToken);
            _report.Add("memory.redis_per_queued_task", $"Redis memory per queued task ({settings.PayloadBytes}-byte payload)", "bytes",
                (full.UsedMemory - before.UsedMemory) / (double)settings.Backlog);
            if (broker.Process is not null)
            {
                _report.Add("memory.broker_rss_idle", "broker RSS before the backlog", "MB", rssBefore / 1e6);
                _report.Add("memory.broker_rss_backlog", $"broker RSS, peak while {settings.Backlog:N0} tasks queued", "MB", rssMax / 1e6);
            }

            await DeleteQueueAsync(Queue, cancellationToken);
        }
    }

    private async Task DrainScenariosAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-drain";
        var client = Client(broker);
        var running = new List<ChildProcess>();
        var costCount = settings.Workers.Contains(settings.FixedWorkers) ? settings.FixedWorkers : settings.Workers.Max();
        foreach (var workers in settings.Includes("drain") ? [.. settings.Workers.Distinct().Order()] : new[] { settings.FixedWorkers })
        {
            await ResizeAsync(running, workers, broker, Queue, cancellationToken);
            await Step($"drain: {settings.Tasks:N0} tasks, {workers} worker(s) x {settings.Concurrency} slots");
            await WarmUpAsync([client], Queue, cancellationToken, running, [broker]);
            for (var run = 0; settings.Includes("drain") && run < settings.Runs; run++)
            {
                var drain = await DrainOnceAsync([client], Queue, NoopType, _payload, settings.Tasks, running, [broker], cancellationToken);
                _report.Add($"drain.workers_{workers}", $"drain: {workers} worker{(workers == 1 ? "" : "s")}, 1 broker", "tasks/s", drain.TasksPerSecond);
                if (workers == costCount)
                {
                    RecordCost(drain, workers);
                }
            }

            if (settings.Includes("retry") && (workers == settings.FixedWorkers || (workers == settings.Workers.Max() && settings.FixedWorkers > workers)))
            {
                await RetryScenarioAsync(client, broker, running, Queue, cancellationToken);
            }
        }
    }

    private async Task RetryScenarioAsync(TaskQueueClient client, BrokerEndpoint broker, List<ChildProcess> running, string queue, CancellationToken cancellationToken)
    {
        await ResizeAsync(running, settings.FixedWorkers, broker, queue, cancellationToken);
        await Step($"retry: {settings.RetryTasks:N0} tasks that fail once then succeed, {settings.FixedWorkers} workers");
        var fail = "1"u8.ToArray();
        await WarmUpAsync([client], queue, cancellationToken, running, [broker], "fail", fail);
        for (var run = 0; run < settings.Runs; run++)
        {
            var drain = await DrainOnceAsync([client], queue, "fail", fail, settings.RetryTasks, running, [broker], cancellationToken);
            _report.Add("retry", $"retry path: fail once then succeed, {settings.FixedWorkers} workers", "tasks/s", drain.TasksPerSecond);
        }
    }

    private async Task PairScenarioAsync(BrokerEndpoint first, CancellationToken cancellationToken)
    {
        const string Queue = "bench-pair";
        await system.StopWorkersAsync(system.Workers);
        BrokerEndpoint second;
        if (settings.Attached)
        {
            if (settings.Brokers.Count < 2)
            {
                _report.Notes.Add("drain with 2 brokers: skipped (attached to one broker; pass --broker twice)");
                return;
            }

            second = new BrokerEndpoint(settings.Brokers[1], null, null);
        }
        else
        {
            second = await system.StartBrokerAsync(s_drainBroker, cancellationToken);
        }

        var brokers = new[] { first, second };
        var workers = new List<ChildProcess>();
        var onFirst = (settings.FixedWorkers + 1) / 2;
        workers.AddRange(await system.StartWorkersAsync(first, Queue, onFirst, redis, cancellationToken));
        if (settings.FixedWorkers > onFirst)
        {
            workers.AddRange(await system.StartWorkersAsync(second, Queue, settings.FixedWorkers - onFirst, redis, cancellationToken));
        }

        var clients = brokers.Select(Client).ToArray();
        await Step($"drain: {settings.Tasks:N0} tasks, {settings.FixedWorkers} workers over 2 brokers (submits alternate)");
        await WarmUpAsync(clients, Queue, cancellationToken, workers, brokers);
        for (var run = 0; run < settings.Runs; run++)
        {
            var drain = await DrainOnceAsync(clients, Queue, NoopType, _payload, settings.Tasks, workers, brokers, cancellationToken);
            _report.Add("drain.brokers_2", $"drain: {settings.FixedWorkers} workers, 2 brokers", "tasks/s", drain.TasksPerSecond);
        }

        await system.StopWorkersAsync(workers);
        if (!settings.Attached)
        {
            await system.StopBrokerAsync(second);
        }
    }

    private async Task LatencyScenarioAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-latency";
        var workers = await system.StartWorkersAsync(broker, Queue, settings.FixedWorkers, redis, cancellationToken);
        var client = Client(broker);
        await Step($"latency: open loop at {string.Join(", ", settings.Rates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} tasks/s for {settings.LatencyDuration.TotalSeconds:0.#} s, {settings.FixedWorkers} workers");
        await WarmUpAsync([client], Queue, cancellationToken);
        // The batch warm-up leaves the single-submit path cold (its JIT tiers, the thread pool grown for one call per
        // task): an unrecorded open loop at the highest rate warms it, or a short run measures start-up, not latency.
        await OpenLoopAsync(client, Queue, settings.Rates.Max(), s_latencyWarmUp, cancellationToken);
        for (var run = 0; run < settings.Runs; run++)
        {
            foreach (var rate in settings.Rates)
            {
                var before = await InfoAsync(cancellationToken);
                var cpuBefore = ReadCpu([broker], workers, before);
                var samples = await OpenLoopAsync(client, Queue, rate, settings.LatencyDuration, cancellationToken);
                var after = await InfoAsync(cancellationToken);
                var cpuAfter = ReadCpu([broker], workers, after);
                _report.Add($"latency.{rate}.offered", $"latency @ {rate:N0}/s: rate actually offered", "tasks/s", samples.OfferedRate);
                foreach (var (name, label, values) in new[] { ("start", "submit->start", samples.ToStart), ("completed", "submit->completed", samples.ToCompleted) })
                {
                    foreach (var (suffix, quantile) in new[] { ("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("max", 1.0) })
                    {
                        _report.Add($"latency.{rate}.{name}.{suffix}", $"latency @ {rate:N0}/s: {label} {suffix}", "ms", Quantile(values, quantile));
                    }
                }

                // Where submit->start goes, at the 1 ms resolution of the times Redis keeps (created, started).
                foreach (var (name, label, values) in new[]
                         {
                             ("stored", "submit->stored (enqueue script ran)", samples.ToStored),
                             ("claimed", "stored->claimed (wake-up + claim script ran)", samples.StoredToClaimed),
                             ("delivered", "claimed->start (claim reply, stream, worker)", samples.ClaimedToStart),
                         })
                {
                    foreach (var (suffix, quantile) in new[] { ("p50", 0.50), ("p99", 0.99) })
                    {
                        _report.Add($"latency.{rate}.{name}.{suffix}", $"latency @ {rate:N0}/s: {label} {suffix}", "ms", Quantile(values, quantile));
                    }
                }

                // What the rate costs, per task: far steadier under a loaded machine than the latencies themselves.
                var tasks = samples.ToStart.Length;
                var calls = after.CallsSince(before);
                _report.Add($"latency.{rate}.script_calls_per_task", $"latency @ {rate:N0}/s: Redis script calls per task", "calls",
                    (calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval")) / (double)tasks);
                foreach (var (name, label, seconds) in new[]
                         {
                             ("broker", "broker", cpuAfter.Brokers - cpuBefore.Brokers),
                             ("workers", "all workers", cpuAfter.Workers - cpuBefore.Workers),
                             ("redis", "Redis", cpuAfter.Redis - cpuBefore.Redis),
                         })
                {
                    _report.Add($"latency.{rate}.{name}_cpu_per_1000", $"latency @ {rate:N0}/s: {label} CPU per 1,000 tasks", "ms", seconds * 1000 / (tasks / 1000.0));
                }

                _report.Add("memory.redis_per_retained_task", "Redis memory per finished task kept for retention (24 h default)", "bytes",
                    (after.UsedMemory - before.UsedMemory) / (double)samples.ToStart.Length);
            }
        }

        await system.StopWorkersAsync(workers);
    }

    // ---- one drain ----

    private sealed record DrainResult(int Tasks, double SubmitSeconds, double DrainSeconds, RedisInfo Before, RedisInfo Queued, RedisInfo Drained, RedisInfo Settled, long OwnCommands, Cpu CpuStart, Cpu CpuEnd, Cpu SubmitStart)
    {
        public double TasksPerSecond => Tasks / DrainSeconds;
    }

    /// <summary>CPU seconds used so far by each kind of process.</summary>
    private sealed record Cpu(double Brokers, double Workers, double Redis, double Bench);

    /// <summary>
    /// Fills the queue while the workers are frozen (SIGSTOP), then lets them all go at once and times
    /// until the queue's completed counter has grown by <paramref name="count"/>: the workers are
    /// connected and warm, and neither process start-up nor submission is in the drain time.
    /// </summary>
    private async Task<DrainResult> DrainOnceAsync(
        TaskQueueClient[] clients, string queue, string type, byte[] payload, int count,
        IReadOnlyList<ChildProcess> workers, IReadOnlyList<BrokerEndpoint> brokers, CancellationToken cancellationToken,
        Func<int, string>? groupOf = null)
    {
        var completed = await CounterAsync(queue, "completed", cancellationToken);
        var ownBefore = _ownCommands;
        var before = await InfoAsync(cancellationToken);
        var submitCpu = ReadCpu(brokers, workers, before);
        foreach (var worker in workers)
        {
            worker.Freeze();
        }

        double submitSeconds;
        try
        {
            var started = time.GetTimestamp();
            await SubmitBatchesAsync(clients, queue, type, payload, count, cancellationToken, groupOf is null ? null : (request, i) => request with { Group = groupOf(i) });
            submitSeconds = time.GetElapsedTime(started).TotalSeconds;
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Thaw();
            }
        }

        var thawed = time.GetTimestamp();
        var queued = await InfoAsync(cancellationToken);
        var cpuStart = ReadCpu(brokers, workers, queued);
        await WaitForCounterAsync(queue, "completed", completed + count, cancellationToken);
        var drainSeconds = time.GetElapsedTime(thawed).TotalSeconds;
        var drained = await InfoAsync(cancellationToken);
        var cpuEnd = ReadCpu(brokers, workers, drained);
        // In-flight acknowledgements and deletions land within moments of the last completion.
        await Task.Delay(TimeSpan.FromMilliseconds(300), time, cancellationToken);
        var settled = await InfoAsync(cancellationToken);
        return new DrainResult(count, submitSeconds, drainSeconds, before, queued, drained, settled, _ownCommands - ownBefore, cpuStart, cpuEnd, submitCpu);
    }

    private void RecordCost(DrainResult drain, int workers)
    {
        var perThousand = drain.Tasks / 1000.0;
        var where = $"{workers} workers";
        _report.Add("submit.batch_during_drain", $"submit while workers are frozen ({where} run)", "tasks/s", drain.Tasks / drain.SubmitSeconds);
        // The benchmark's own INFO and counter polls are taken out of Redis's totals.
        var commands = drain.Drained.TotalCommands - drain.Before.TotalCommands - drain.OwnCommands;
        var reads = drain.Drained.Reads - drain.Before.Reads - drain.OwnCommands;
        var calls = drain.Drained.CallsSince(drain.Before);
        var scripts = calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval");
        _report.Add("cost.redis_commands_per_task", $"Redis commands per task, submit+claim+complete, incl. inside scripts ({where})", "commands", commands / (double)drain.Tasks);
        _report.Add("cost.script_calls_per_task", $"Redis script calls per task ({where})", "calls", scripts / (double)drain.Tasks);
        _report.Add("cost.round_trips_per_task", $"Redis round trips (socket reads) per task ({where})", "reads", reads / (double)drain.Tasks);
        _report.Add("cost.redis_cpu_per_1000", $"Redis CPU per 1,000 tasks, drain ({where})", "ms", (drain.CpuEnd.Redis - drain.CpuStart.Redis) * 1000 / perThousand);
        _report.Add("cost.broker_cpu_per_1000", $"broker CPU per 1,000 tasks, drain ({where})", "ms", (drain.CpuEnd.Brokers - drain.CpuStart.Brokers) * 1000 / perThousand);
        _report.Add("cost.workers_cpu_per_1000", $"worker CPU per 1,000 tasks, all workers, drain ({where})", "ms", (drain.CpuEnd.Workers - drain.CpuStart.Workers) * 1000 / perThousand);
        _report.Add("cost.broker_cpu_per_1000_submit", $"broker CPU per 1,000 tasks, batch submit ({where})", "ms", (drain.CpuStart.Brokers - drain.SubmitStart.Brokers) * 1000 / perThousand);
        _report.Add("cost.redis_cpu_per_1000_submit", $"Redis CPU per 1,000 tasks, batch submit ({where})", "ms", (drain.CpuStart.Redis - drain.SubmitStart.Redis) * 1000 / perThousand);
        _report.Add("memory.redis_after_drain", "Redis memory after the drain minus before (retention 0)", "KB", (drain.Settled.UsedMemory - drain.Before.UsedMemory) / 1e3);
        var top = calls.Where(c => c.Key is not ("info" or "hget")).OrderByDescending(c => c.Value).Take(10)
            .Select(c => $"{c.Key} {c.Value / (double)drain.Tasks:0.00}");
        var note = $"Redis commands per task ({where}, last run): {string.Join(", ", top)}";
        _report.Notes.RemoveAll(n => n.StartsWith("Redis commands per task", StringComparison.Ordinal));
        _report.Notes.Add(note);
    }

    private Cpu ReadCpu(IReadOnlyList<BrokerEndpoint> brokers, IReadOnlyList<ChildProcess> workers, RedisInfo info)
    {
        using var self = Process.GetCurrentProcess();
        return new Cpu(
            brokers.Sum(b => b.Process?.CpuTime().TotalSeconds ?? double.NaN),
            workers.Sum(w => w.CpuTime().TotalSeconds),
            info.CpuSeconds,
            self.TotalProcessorTime.TotalSeconds);
    }

    // ---- latency ----

    /// <summary>
    /// Per task, in ms: submit to start and to completion, and submit to start cut where Redis stamped the task
    /// (created by the enqueue script, started by the claim script; whole ms, so each part is within ±1 ms).
    /// </summary>
    private sealed record LatencySamples(
        double[] ToStart, double[] ToCompleted, double[] ToStored, double[] StoredToClaimed, double[] ClaimedToStart, double OfferedRate);

    /// <summary>
    /// Open loop: task i is sent at start + i/rate whether or not earlier ones finished (a 1 ms timer
    /// releases every send that is due). Start times come from the noop handler (the worker's clock, µs),
    /// completion times from Redis (ms); the sender's clock is the same machine's.
    /// </summary>
    private async Task<LatencySamples> OpenLoopAsync(
        TaskQueueClient client, string queue, int rate, TimeSpan duration, CancellationToken cancellationToken)
    {
        var count = Math.Max(1, (int)(rate * duration.TotalSeconds));
        var completedBefore = await CounterAsync(queue, "completed", cancellationToken);
        var sentAt = new long[count];
        var ids = new string[count];
        var sends = new Task[count];
        var request = new TaskRequest { Queue = queue, Type = NoopType, Payload = _payload };
        var start = time.GetTimestamp();
        var next = 0;
        using (var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(1), time))
        {
            while (next < count)
            {
                var due = Math.Min(count, (int)(time.GetElapsedTime(start).TotalSeconds * rate) + 1);
                for (; next < due; next++)
                {
                    var i = next;
                    sentAt[i] = UnixMicros();
                    sends[i] = SendAsync(i);
                }

                if (next < count)
                {
                    await timer.WaitForNextTickAsync(cancellationToken);
                }
            }
        }

        var offered = count / Math.Max(1e-6, (sentAt[^1] - sentAt[0]) / 1e6);
        await Task.WhenAll(sends);
        await WaitForCounterAsync(queue, "completed", completedBefore + count, cancellationToken);

        var toStart = new double[count];
        var toCompleted = new double[count];
        var toStored = new double[count];
        var storedToClaimed = new double[count];
        var claimedToStart = new double[count];
        const int chunk = 1000;
        for (var offset = 0; offset < count; offset += chunk)
        {
            var commands = ids.Skip(offset).Take(chunk)
                .Select(id => new[] { "HMGET", $"tq:{{{queue}}}:t:{id[(id.LastIndexOf(':') + 1)..]}", "result", "finished", "created", "started" })
                .ToList();
            var replies = await redis.PipelineAsync(commands, cancellationToken);
            _ownCommands += commands.Count;
            for (var j = 0; j < replies.Length; j++)
            {
                var fields = (object?[])replies[j]!;
                var i = offset + j;
                var startedMicros = long.Parse((string)fields[0]!, CultureInfo.InvariantCulture);
                var createdMs = long.Parse((string)fields[2]!, CultureInfo.InvariantCulture);
                var claimedMs = long.Parse((string)fields[3]!, CultureInfo.InvariantCulture);
                toStart[i] = (startedMicros - sentAt[i]) / 1000.0;
                toCompleted[i] = ((long.Parse((string)fields[1]!, CultureInfo.InvariantCulture) * 1000) - sentAt[i]) / 1000.0;
                toStored[i] = ((createdMs * 1000) - sentAt[i]) / 1000.0;
                storedToClaimed[i] = claimedMs - createdMs;
                claimedToStart[i] = (startedMicros - (claimedMs * 1000)) / 1000.0;
            }
        }

        return new LatencySamples(toStart, toCompleted, toStored, storedToClaimed, claimedToStart, offered);

        async Task SendAsync(int i) => ids[i] = (await client.SubmitAsync(request, cancellationToken)).TaskId;
    }

    private static double Quantile(double[] values, double quantile)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    private long UnixMicros() => (time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;

    // ---- helpers ----

    private TaskQueueClient Client(BrokerEndpoint broker)
    {
        var channel = GrpcChannel.ForAddress(broker.GrpcAddress, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
        });
        _channels.Add(channel);
        // Authorization: Bearer on every call, as any client with a key sends it.
        var invoker = channel.Intercept(headers =>
        {
            headers.Add("Authorization", $"Bearer {system.ClientKey}");
            return headers;
        });
        return new TaskQueueClient(invoker, new TaskQueueClientOptions { BatchSize = settings.Batch, RequestTimeout = settings.Timeout }, time);
    }

    private async Task ResizeAsync(List<ChildProcess> running, int count, BrokerEndpoint broker, string queue, CancellationToken cancellationToken)
    {
        if (running.Count > count)
        {
            var extra = running.Skip(count).ToList();
            running.RemoveRange(count, running.Count - count);
            await system.StopWorkersAsync(extra);
        }
        else if (running.Count < count)
        {
            running.AddRange(await system.StartWorkersAsync(broker, queue, count - running.Count, redis, cancellationToken));
        }
    }

    /// <summary>
    /// Runs tasks through fresh processes before measuring (the same way the measured runs do, when
    /// workers are given), so JIT compilation and connection set-up are not measured: up to 50,000,
    /// enough for the JIT's optimized tier (after its instrumented one) to replace the hot paths' code.
    /// </summary>
    private async Task WarmUpAsync(
        TaskQueueClient[] clients, string queue, CancellationToken cancellationToken,
        IReadOnlyList<ChildProcess>? workers = null, IReadOnlyList<BrokerEndpoint>? brokers = null, string type = NoopType, byte[]? payload = null)
    {
        var count = Math.Min(50_000, settings.Tasks);
        if (workers is not null && brokers is not null)
        {
            await DrainOnceAsync(clients, queue, type, payload ?? _payload, count, workers, brokers, cancellationToken);
            return;
        }

        var completed = await CounterAsync(queue, "completed", cancellationToken);
        await SubmitBatchesAsync(clients, queue, type, payload ?? _payload, count, cancellationToken);
        await WaitForCounterAsync(queue, "completed", completed + count, cancellationToken);
    }

    private async Task SubmitSinglesAsync(TaskQueueClient client, string queue, int count, CancellationToken cancellationToken)
    {
        var request = new TaskRequest { Queue = queue, Type = NoopType, Payload = _payload };
        await Parallel.ForEachAsync(
            Enumerable.Range(0, count),
            new ParallelOptions { MaxDegreeOfParallelism = settings.SubmitConcurrency, CancellationToken = cancellationToken },
            async (_, token) => await client.SubmitAsync(request, token));
    }

    /// <summary>
    /// Submits <paramref name="count"/> tasks in batches, <see cref="BenchSettings.InFlight"/> calls at a time, spread over the
    /// clients; <paramref name="vary"/> makes the i-th task from the template (e.g. its group or queue; none: all alike).
    /// </summary>
    private async Task SubmitBatchesAsync(
        TaskQueueClient[] clients, string queue, string type, byte[] payload, int count, CancellationToken cancellationToken,
        Func<TaskRequest, int, TaskRequest>? vary = null)
    {
        var batch = Enumerable.Range(0, settings.Batch).Select(_ => new TaskRequest { Queue = queue, Type = type, Payload = payload }).ToArray();
        var batches = (count + settings.Batch - 1) / settings.Batch;
        await Parallel.ForEachAsync(
            Enumerable.Range(0, batches),
            new ParallelOptions { MaxDegreeOfParallelism = settings.InFlight, CancellationToken = cancellationToken },
            async (b, token) =>
            {
                var size = Math.Min(settings.Batch, count - (b * settings.Batch));
                var requests = vary is null
                    ? (size == batch.Length ? batch : batch[..size])
                    : [.. Enumerable.Range(b * settings.Batch, size).Select(i => vary(batch[0], i))];
                var results = await clients[b % clients.Length].SubmitBatchAsync(requests, token);
                if (results.Count != size)
                {
                    throw new InvalidOperationException($"A batch of {size} came back with {results.Count} results.");
                }
            });
    }

    private async Task<long> CounterAsync(string queue, string counter, CancellationToken cancellationToken)
    {
        _ownCommands++;
        return await redis.CallAsync(cancellationToken, "HGET", $"tq:{{{queue}}}:stats", counter) is string text
            ? long.Parse(text, CultureInfo.InvariantCulture)
            : 0;
    }

    private async Task WaitForCounterAsync(string queue, string counter, long target, CancellationToken cancellationToken)
    {
        var deadline = time.GetTimestamp();
        long value;
        while ((value = await CounterAsync(queue, counter, cancellationToken)) < target)
        {
            if (time.GetElapsedTime(deadline) > settings.Timeout)
            {
                throw new TimeoutException(
                    $"Queue {queue}: {counter} reached {value:N0} of {target:N0} within {settings.Timeout}.\n" +
                    string.Join("\n---\n", system.Workers.Select(w => w.Name + (w.HasExited ? " (exited)" : "") + ":\n" + w.RecentOutput)));
            }

            await Task.Delay(s_pollInterval, time, cancellationToken);
        }
    }

    private async Task<RedisInfo> InfoAsync(CancellationToken cancellationToken)
    {
        _ownCommands++;
        return await RedisInfo.ReadAsync(redis, cancellationToken);
    }

    /// <summary>Deletes every key of a queue (SCAN + UNLINK), so the next measurement starts from an empty queue.</summary>
    private async Task DeleteQueueAsync(string queue, CancellationToken cancellationToken)
    {
        var cursor = "0";
        do
        {
            var reply = (object?[])(await redis.CallAsync(cancellationToken, "SCAN", cursor, "MATCH", $"tq:{{{queue}}}:*", "COUNT", "10000"))!;
            _ownCommands++;
            cursor = (string)reply[0]!;
            var keys = ((object?[])reply[1]!).Cast<string>().ToArray();
            if (keys.Length > 0)
            {
                await redis.CallAsync(cancellationToken, ["UNLINK", .. keys]);
                _ownCommands++;
            }
        }
        while (cursor != "0");
    }

    private Task Step(string text) => log.WriteLineAsync($"[{time.GetLocalNow():HH:mm:ss}] {text}");
}
