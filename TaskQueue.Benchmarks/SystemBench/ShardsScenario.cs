using System.Globalization;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// The "shards" scenario: what a Redis Cluster costs and how it splits the work. Six queues, one broker and
/// --fixed-workers workers that each read all six, drained (the workers frozen while the tasks are submitted, spread
/// evenly over the queues, then let go at once) first on the benchmark's own single Redis, then on a private Redis
/// Cluster (<see cref="RedisClusterProcess"/>, the same persistence) of 1, 2 and 3 primaries. The queue names are
/// picked so that with 3 primaries each holds 2 of the queues and with 2 each holds 3 (the layout is printed). Figures,
/// per topology: tasks/s, and Redis CPU per 1,000 tasks on each primary (<c>used_cpu_sys</c> + <c>used_cpu_user</c>
/// of INFO, before and after the drain) and on all of them. On a 2-core machine the broker and workers, not Redis,
/// bound the throughput, so the rate hardly grows with the shards; the CPU per primary shows the split. A 1-primary
/// cluster against the single node is what cluster mode itself costs (per-slot index keys, redirection checks).
/// </summary>
internal sealed partial class BenchRunner
{
    private static readonly int[] s_shardCounts = [1, 2, 3];

    private static readonly IReadOnlyList<string> s_shardQueues = PickShardQueues();

    private async Task ShardsScenarioAsync(CancellationToken cancellationToken)
    {
        if (settings.Attached || !system.OwnsRedis)
        {
            _report.Notes.Add("shards: skipped (it starts its own clusters beside the private Redis; attached runs have neither)");
            return;
        }

        await Step($"shards: {settings.Tasks:N0} tasks over {s_shardQueues.Count} queues, {settings.FixedWorkers} workers x {settings.Concurrency} slots, " +
                   $"1 broker; a single Redis, then a cluster of {string.Join(", ", s_shardCounts)} primaries");
        await using (var plain = await ConnectionMultiplexer.ConnectAsync($"{system.RedisEndpoint},abortConnect=true"))
        {
            await ShardDrainsAsync("plain", "single Redis", system.RedisEndpoint, plain, [redis], [s_shardQueues], cancellationToken);
        }

        foreach (var primaries in s_shardCounts)
        {
            await using var cluster = await RedisClusterProcess.StartAsync(
                primaries, extraArguments: settings.NoPersistence ? RedisServerSettings.NoPersistence : [], cancellationToken: cancellationToken);
            var layout = new List<string>[primaries];
            for (var i = 0; i < primaries; i++)
            {
                layout[i] = [];
            }

            foreach (var queue in s_shardQueues)
            {
                var owner = await cluster.OwnerOfAsync(ClusterSlots.OfQueue(queue), cancellationToken);
                layout[cluster.Primaries.ToList().IndexOf(owner)].Add(queue);
            }

            _report.Notes.Add($"shards: {primaries} primar{(primaries == 1 ? "y" : "ies")}: " + string.Join("; ", layout.Select((queues, i) =>
                $"primary {i + 1} {string.Join(", ", queues.Select(q => $"{q} (slot {ClusterSlots.OfQueue(q)})"))}")));
            await using var connection = await ConnectionMultiplexer.ConnectAsync($"{cluster.ConnectionString},abortConnect=true");
            var nodes = new List<RespConnection>();
            try
            {
                foreach (var primary in cluster.Primaries)
                {
                    nodes.Add(await primary.ConnectAsync(cancellationToken));
                }

                await ShardDrainsAsync($"cluster_{primaries}", $"cluster of {primaries}", cluster.ConnectionString, connection, nodes, layout, cancellationToken);
            }
            finally
            {
                foreach (var node in nodes)
                {
                    await node.DisposeAsync();
                }
            }
        }
    }

    /// <summary>A warm-up drain, then --runs measured ones, on a broker and workers of their own against <paramref name="redisConnection"/>.</summary>
    private async Task ShardDrainsAsync(
        string key, string label, string redisConnection, IConnectionMultiplexer connection, IReadOnlyList<RespConnection> primaries,
        IReadOnlyList<IReadOnlyList<string>> queuesByPrimary, CancellationToken cancellationToken)
    {
        var broker = await system.StartBrokerAsync(
            new Dictionary<string, string>(s_drainBroker) { ["ConnectionStrings__redis"] = redisConnection }, cancellationToken);
        var db = connection.GetDatabase();
        var workers = new List<ChildProcess>();
        try
        {
            workers.AddRange(await system.StartWorkersAsync(
                broker, string.Join(',', s_shardQueues), settings.FixedWorkers, (keys, _) => AllConnectedAsync(db, keys), cancellationToken));
            var client = Client(broker);
            await ShardDrainOnceAsync(client, db, broker, primaries, workers, Math.Min(settings.Tasks, 20_000), cancellationToken); // JIT, connections
            for (var run = 0; run < settings.Runs; run++)
            {
                var drain = await ShardDrainOnceAsync(client, db, broker, primaries, workers, settings.Tasks, cancellationToken);
                var perThousand = drain.Tasks / 1000.0;
                _report.Add($"shards.{key}", $"shards: {label}, {s_shardQueues.Count} queues, {settings.FixedWorkers} workers, 1 broker", "tasks/s", drain.Tasks / drain.Seconds);
                for (var i = 0; i < primaries.Count && primaries.Count > 1; i++)
                {
                    _report.Add($"shards.{key}.primary_{i + 1}.redis_cpu_per_1000", $"shards: {label}, primary {i + 1} ({string.Join(", ", queuesByPrimary[i])}), Redis CPU per 1,000 tasks",
                        "ms", drain.RedisCpu[i] * 1000 / perThousand);
                }

                _report.Add($"shards.{key}.redis_cpu_per_1000", $"shards: {label}, Redis CPU per 1,000 tasks{(primaries.Count > 1 ? ", all primaries" : "")}", "ms", drain.RedisCpu.Sum() * 1000 / perThousand);
                _report.Add($"shards.{key}.broker_cpu_per_1000", $"shards: {label}, broker CPU per 1,000 tasks", "ms", drain.BrokerCpu * 1000 / perThousand);
            }
        }
        finally
        {
            await system.StopWorkersAsync(workers);
            await system.StopBrokerAsync(broker);
        }
    }

    /// <summary>One drain over the six queues: seconds from the thaw to the last completion, and each primary's and the broker's CPU seconds meanwhile.</summary>
    private sealed record ShardDrain(int Tasks, double Seconds, double[] RedisCpu, double BrokerCpu);

    private async Task<ShardDrain> ShardDrainOnceAsync(
        TaskQueueClient client, IDatabase db, BrokerEndpoint broker, IReadOnlyList<RespConnection> primaries, IReadOnlyList<ChildProcess> workers,
        int count, CancellationToken cancellationToken)
    {
        var target = await CompletedAsync(db) + count;
        foreach (var worker in workers)
        {
            worker.Freeze();
        }

        try
        {
            // Task i to queue i mod 6.
            await SubmitBatchesAsync(
                [client], s_shardQueues[0], NoopType, _payload, count, cancellationToken, (request, i) => request with { Queue = s_shardQueues[i % s_shardQueues.Count] });
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Thaw();
            }
        }

        var thawed = time.GetTimestamp();
        var cpuStart = await CpuAsync(primaries, cancellationToken);
        var brokerStart = broker.Process!.CpuTime();
        long completed;
        while ((completed = await CompletedAsync(db)) < target)
        {
            if (time.GetElapsedTime(thawed) > settings.Timeout)
            {
                throw new TimeoutException($"shards: {completed:N0} of {target:N0} completed within {settings.Timeout}.\n" +
                                           string.Join("\n---\n", workers.Select(w => w.Name + (w.HasExited ? " (exited)" : "") + ":\n" + w.RecentOutput)));
            }

            await Task.Delay(s_pollInterval, time, cancellationToken);
        }

        var seconds = time.GetElapsedTime(thawed).TotalSeconds;
        var cpuEnd = await CpuAsync(primaries, cancellationToken);
        return new ShardDrain(count, seconds, [.. cpuEnd.Zip(cpuStart, (end, start) => end - start)], (broker.Process.CpuTime() - brokerStart).TotalSeconds);
    }

    private static async Task<long> CompletedAsync(IDatabase db)
    {
        var counts = await Task.WhenAll(s_shardQueues.Select(queue => db.HashGetAsync(RedisKeys.Stats(queue), "completed")));
        return counts.Sum(c => c.IsNull ? 0 : (long)c);
    }

    private static async Task<bool> AllConnectedAsync(IDatabase db, IReadOnlyList<string> workerKeys)
    {
        var connected = await Task.WhenAll(workerKeys.Select(key => db.HashGetAsync(key, WorkerFields.Connected)));
        return connected.All(c => c == "1");
    }

    private static async Task<double[]> CpuAsync(IReadOnlyList<RespConnection> primaries, CancellationToken cancellationToken)
    {
        var cpu = new double[primaries.Count];
        for (var i = 0; i < primaries.Count; i++)
        {
            cpu[i] = (await RedisInfo.ReadAsync(primaries[i], cancellationToken)).CpuSeconds;
        }

        return cpu;
    }

    /// <summary>
    /// Six queue names, by the slots of their hash tags: two in the first third of the slots, one on each side of the
    /// middle of the second third, two in the last third. <see cref="RedisClusterProcess"/> gives primary i of n the
    /// slots from i × 16384 / n: so 2 queues on each of 3 primaries, 3 on each of 2.
    /// </summary>
    private static IReadOnlyList<string> PickShardQueues()
    {
        const int Slots = RedisClusterProcess.SlotCount;
        int[] bounds = [0, Slots / 3, Slots / 2, 2 * Slots / 3, Slots];
        var wanted = new[] { 2, 1, 1, 2 };
        var picked = new List<string>();
        for (var i = 0; wanted.Any(w => w > 0); i++)
        {
            var queue = "bench-shard-" + i.ToString(CultureInfo.InvariantCulture);
            var slot = ClusterSlots.OfQueue(queue);
            var bin = Enumerable.Range(0, wanted.Length).First(b => bounds[b] <= slot && slot < bounds[b + 1]);
            if (wanted[bin] > 0)
            {
                wanted[bin]--;
                picked.Add(queue);
            }
        }

        return picked;
    }
}
