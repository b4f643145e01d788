using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.StoreBench;

/// <summary>
/// <c>store</c>: the throughput of <see cref="RedisTaskStore"/> alone (no gRPC, no workers) against a
/// baseline of plain Redis streams doing the least a queue can do (XADD, XREADGROUP, XACK) at the same
/// batch sizes. Every figure is the median of several runs with their range; the Redis side is measured
/// with INFO (commands executed, including those inside scripts, and CPU) to show where the time goes.
/// </summary>
internal static class StoreBenchmark
{
    private const string Usage =
        "store [--redis host:port] [--no-persistence] [--tasks N] [--batch N] [--enqueue-batch N] [--in-flight N] [--runs N] [--ack-replicas N]\n" +
        "  --redis          an existing Redis (default: a private redis-server on a free port with TaskQueue's\n" +
        "                   settings: AOF, fsync every second); its figures then include whatever else that Redis is doing\n" +
        "  --no-persistence the private redis-server without its append-only file\n" +
        "  --tasks          tasks per run (default 100000)\n" +
        "  --batch          tasks per claim and per complete call, and per XREADGROUP/XACK (default 100)\n" +
        "  --enqueue-batch  tasks per enqueue call, and per pipelined XADD batch (default 500)\n" +
        "  --in-flight      enqueue batches in flight at once (default 4)\n" +
        "  --runs           runs per scenario; figures are the median (default 3)\n" +
        "  --ack-replicas   the store's TaskQueue:Store:AckReplicas (default 0): enqueue and complete wait for N replicas\n" +
        "                   (with --redis: a primary that has them)";

    private const string Group = "bench";
    private static readonly int[] s_claimers = [1, 4];

    public static async Task<int> RunAsync(string[] args)
    {
        BenchmarkSettings settings;
        try
        {
            settings = BenchmarkSettings.Parse(args);
        }
        catch (FormatException e)
        {
            await Console.Error.WriteLineAsync(e.Message + "\n" + Usage);
            return 2;
        }

        if (settings.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        try
        {
            await using var privateServer = settings.Redis is null
                ? await RedisServerProcess.StartAsync(extraArguments: settings.NoPersistence ? RedisServerSettings.NoPersistence : [])
                : null;
            var endpoint = settings.Redis ?? privateServer!.Endpoint;
            await using var redis = await ConnectionMultiplexer.ConnectAsync(
                $"{endpoint},allowAdmin=true,abortConnect=true,syncTimeout=30000,asyncTimeout=30000");
            await new Bench(redis, settings, privateServer is not null).RunAsync();
            return 0;
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"store benchmark failed: {e}");
            return 1;
        }
    }

    private sealed record BenchmarkSettings(
        string? Redis, bool NoPersistence, int Tasks, int Batch, int EnqueueBatch, int InFlight, int Runs, bool Help, int AckReplicas = 0)
    {
        public static BenchmarkSettings Parse(string[] args)
        {
            var settings = new BenchmarkSettings(null, false, 100_000, 100, 500, 4, 3, false);
            var rest = args;
            for (var i = 0; i < rest.Length; i++)
            {
                string Value() => i + 1 < rest.Length ? rest[++i] : throw new FormatException($"{rest[i]} needs a value.");
                int Positive() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
                    ? n
                    : throw new FormatException($"{rest[i - 1]} needs a positive whole number.");
                settings = rest[i] switch
                {
                    "--redis" => settings with { Redis = Value() },
                    "--no-persistence" => settings with { NoPersistence = true },
                    "--tasks" => settings with { Tasks = Positive() },
                    "--batch" => settings with { Batch = Positive() },
                    "--enqueue-batch" => settings with { EnqueueBatch = Positive() },
                    "--in-flight" => settings with { InFlight = Positive() },
                    "--runs" => settings with { Runs = Positive() },
                    "--ack-replicas" => settings with { AckReplicas = Positive() },
                    "-h" or "--help" => settings with { Help = true },
                    var other => throw new FormatException($"Unknown argument '{other}'."),
                };
            }

            return settings;
        }
    }

    /// <summary>One timed phase: how long it took, what the client sent, and what Redis did meanwhile.</summary>
    private sealed record Phase(double Seconds, long Tasks, long Requests, RedisInfo Redis, double ClientCpuSeconds)
    {
        public double TasksPerSecond => Tasks / Seconds;
    }

    private sealed record Run(Phase Enqueue, Phase Drain)
    {
        public double EndToEndPerSecond => Enqueue.Tasks / (Enqueue.Seconds + Drain.Seconds);
    }

    private sealed class Bench(ConnectionMultiplexer redis, BenchmarkSettings settings, bool privateServer)
    {
        private readonly byte[] _payload = [.. Enumerable.Range(0, 100).Select(i => (byte)('a' + (i % 26)))];
        private readonly IServer _server = redis.GetServer(redis.GetEndPoints()[0]);
        private readonly IDatabase _db = redis.GetDatabase();

        public async Task RunAsync()
        {
            var version = _server.Version;
            Console.WriteLine(LoadAverage("load average at start"));
            Console.WriteLine(
                $"store benchmark: {settings.Tasks:N0} tasks per run, 100-byte payloads, enqueue batches of {settings.EnqueueBatch} " +
                $"({settings.InFlight} in flight), claim/complete batches of {settings.Batch}, {settings.Runs} runs, " +
                $"Redis {version} at {redis.GetEndPoints()[0]}{(privateServer ? settings.NoPersistence ? " (private, no persistence)" : " (private, AOF everysec)" : "")}, " +
                $"{Environment.ProcessorCount} cores");

            Console.Write("warming up...");
            var warmup = settings with { Tasks = Math.Min(settings.Tasks, 5_000) };
            foreach (var claimers in s_claimers)
            {
                await StoreRunAsync(warmup, claimers);
                await BaselineRunAsync(warmup, claimers);
            }

            Console.WriteLine(" done");
            var store = s_claimers.ToDictionary(c => c, _ => new List<Run>());
            var baseline = s_claimers.ToDictionary(c => c, _ => new List<Run>());
            for (var run = 1; run <= settings.Runs; run++)
            {
                foreach (var claimers in s_claimers)
                {
                    store[claimers].Add(await StoreRunAsync(settings, claimers));
                    baseline[claimers].Add(await BaselineRunAsync(settings, claimers));
                }

                Console.WriteLine(
                    $"run {run}: " + string.Join("; ", s_claimers.Select(c =>
                        $"{c} claimer(s): store {store[c][^1].EndToEndPerSecond:N0}/s, baseline {baseline[c][^1].EndToEndPerSecond:N0}/s end to end")));
            }

            PrintTable(store, baseline);
            PrintProfile(store);
            Console.WriteLine();
            Console.WriteLine(LoadAverage("load average at end"));
        }

        /// <summary>Other processes compete for the same cores: say how busy the machine was (Linux only).</summary>
        private static string LoadAverage(string label)
        {
            try
            {
                var fields = File.ReadAllText("/proc/loadavg").Split(' ');
                return $"{label} (1/5/15 min): {fields[0]} / {fields[1]} / {fields[2]} on {Environment.ProcessorCount} cores";
            }
            catch (IOException)
            {
                return $"{label}: unknown";
            }
            catch (UnauthorizedAccessException)
            {
                return $"{label}: unknown";
            }
        }

        // ---- the store ----

        private async Task<Run> StoreRunAsync(BenchmarkSettings s, int claimers)
        {
            var store = new RedisTaskStore(redis, Options.Create(new TaskStoreOptions { AckReplicas = s.AckReplicas }), new RedisClockShift());
            var queue = "bench-" + Guid.NewGuid().ToString("N")[..12];
            try
            {
                var enqueue = await MeasureAsync(s.Tasks, async requests =>
                {
                    var batches = (s.Tasks + s.EnqueueBatch - 1) / s.EnqueueBatch;
                    var next = -1;
                    await Task.WhenAll(Enumerable.Range(0, s.InFlight).Select(async _ =>
                    {
                        int b;
                        while ((b = Interlocked.Increment(ref next)) < batches)
                        {
                            var count = Math.Min(s.EnqueueBatch, s.Tasks - (b * s.EnqueueBatch));
                            var tasks = new NewTask[count];
                            for (var i = 0; i < count; i++)
                            {
                                tasks[i] = new NewTask(queue, "bench", _payload);
                            }

                            await store.EnqueueBatchAsync(tasks);
                            Interlocked.Increment(ref requests.Value);
                        }
                    }));
                });

                var drain = await MeasureAsync(s.Tasks, async requests =>
                {
                    var done = await Task.WhenAll(Enumerable.Range(0, claimers).Select(async c =>
                    {
                        long leased = 0;
                        while (true)
                        {
                            var claim = await store.ClaimAsync(queue, "bench-" + c, s.Batch, TimeSpan.FromMinutes(10));
                            Interlocked.Increment(ref requests.Value);
                            if (claim.Tasks.Count == 0)
                            {
                                return leased;
                            }

                            var results = await store.CompleteAsync(
                                queue, [.. claim.Tasks.Select(t => new TaskCompletion(t.Id, t.LeaseToken, ReadOnlyMemory<byte>.Empty))]);
                            Interlocked.Increment(ref requests.Value);
                            if (results.Any(r => r != TransitionResult.Ok))
                            {
                                throw new InvalidOperationException($"A completion was refused: {string.Join(",", results.Distinct())}.");
                            }

                            leased += claim.Tasks.Count;
                        }
                    }));
                    Check(done.Sum() == s.Tasks, $"the claimers completed {done.Sum()} of {s.Tasks} tasks");
                });

                var counts = await store.GetCountsAsync(queue);
                Check(
                    counts is { Ready: 0, Leased: 0, Scheduled: 0 } && counts.Completed == s.Tasks && counts.Submitted == s.Tasks,
                    $"the queue ended as {counts}");
                return new Run(enqueue, drain);
            }
            finally
            {
                await DeleteAsync(RedisKeys.QueuePrefix(queue) + "*");
                await _db.SetRemoveAsync(RedisKeys.Queues, queue);
                await _db.SortedSetRemoveAsync(RedisKeys.Due, queue);
            }
        }

        // ---- the baseline: a raw stream with a consumer group, no bookkeeping ----

        private async Task<Run> BaselineRunAsync(BenchmarkSettings s, int consumers)
        {
            var stream = $"bench:{{{Guid.NewGuid():N}}}:stream";
            try
            {
                await _db.StreamCreateConsumerGroupAsync(stream, Group, StreamPosition.Beginning, createStream: true);
                var enqueue = await MeasureAsync(s.Tasks, async requests =>
                {
                    var batches = (s.Tasks + s.EnqueueBatch - 1) / s.EnqueueBatch;
                    var next = -1;
                    await Task.WhenAll(Enumerable.Range(0, s.InFlight).Select(async _ =>
                    {
                        int b;
                        while ((b = Interlocked.Increment(ref next)) < batches)
                        {
                            var count = Math.Min(s.EnqueueBatch, s.Tasks - (b * s.EnqueueBatch));
                            var adds = new Task[count];
                            for (var i = 0; i < count; i++)
                            {
                                adds[i] = _db.StreamAddAsync(stream, [new("id", Guid.CreateVersion7().ToString("N")), new("payload", _payload)]);
                            }

                            await Task.WhenAll(adds);
                            Interlocked.Add(ref requests.Value, count);
                        }
                    }));
                });

                var drain = await MeasureAsync(s.Tasks, async requests =>
                {
                    var done = await Task.WhenAll(Enumerable.Range(0, consumers).Select(async c =>
                    {
                        long read = 0;
                        while (true)
                        {
                            var entries = await _db.StreamReadGroupAsync(stream, Group, "c" + c, StreamPosition.NewMessages, s.Batch);
                            Interlocked.Increment(ref requests.Value);
                            if (entries.Length == 0)
                            {
                                return read;
                            }

                            await _db.StreamAcknowledgeAsync(stream, Group, [.. entries.Select(e => e.Id)]);
                            Interlocked.Increment(ref requests.Value);
                            read += entries.Length;
                        }
                    }));
                    Check(done.Sum() == s.Tasks, $"the consumers read {done.Sum()} of {s.Tasks} entries");
                });

                var pending = await _db.StreamPendingAsync(stream, Group);
                Check(pending.PendingMessageCount == 0, $"{pending.PendingMessageCount} entries are still pending");
                return new Run(enqueue, drain);
            }
            finally
            {
                await _db.KeyDeleteAsync(stream);
            }
        }

        // ---- measuring ----

        private sealed class Counter
        {
            public long Value;
        }

        private async Task<Phase> MeasureAsync(int tasks, Func<Counter, Task> phase)
        {
            var requests = new Counter();
            using var process = Process.GetCurrentProcess();
            var before = RedisInfo.Parse(await _server.InfoRawAsync("everything") ?? "");
            var cpu = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await phase(requests);
            var seconds = clock.Elapsed.TotalSeconds;
            process.Refresh();
            var clientCpu = (process.TotalProcessorTime - cpu).TotalSeconds;
            var after = RedisInfo.Parse(await _server.InfoRawAsync("everything") ?? "");
            return new Phase(seconds, tasks, requests.Value, after.Since(before), clientCpu);
        }

        private async Task DeleteAsync(string pattern)
        {
            if (privateServer)
            {
                await _server.FlushAllDatabasesAsync();
                return;
            }

            var batch = new List<RedisKey>(1000);
            await foreach (var key in _server.KeysAsync(pattern: pattern, pageSize: 1000))
            {
                batch.Add(key);
                if (batch.Count == 1000)
                {
                    await _db.KeyDeleteAsync([.. batch]);
                    batch.Clear();
                }
            }

            if (batch.Count > 0)
            {
                await _db.KeyDeleteAsync([.. batch]);
            }
        }

        private static void Check(bool condition, string problem)
        {
            if (!condition)
            {
                throw new InvalidOperationException("The benchmark run is invalid: " + problem + ".");
            }
        }

        // ---- reporting ----

        private void PrintTable(Dictionary<int, List<Run>> store, Dictionary<int, List<Run>> baseline)
        {
            var rows = new List<(string Scenario, Stat Rate, double Requests, double Commands, double? Ratio)>();
            var storeEnqueue = store.Values.SelectMany(r => r).Select(r => r.Enqueue).ToList();
            var baseEnqueue = baseline.Values.SelectMany(r => r).Select(r => r.Enqueue).ToList();
            var enqueueRate = Stat.Of(storeEnqueue.Select(p => p.TasksPerSecond));
            var baseEnqueueRate = Stat.Of(baseEnqueue.Select(p => p.TasksPerSecond));
            rows.Add(($"enqueue: store, batches of {settings.EnqueueBatch}, {settings.InFlight} in flight", enqueueRate,
                PerTask(storeEnqueue, p => p.Requests), PerTask(storeEnqueue, p => p.Redis.TotalCommands), enqueueRate.Median / baseEnqueueRate.Median));
            rows.Add(($"enqueue: baseline XADD, pipelined {settings.EnqueueBatch}, {settings.InFlight} in flight", baseEnqueueRate,
                PerTask(baseEnqueue, p => p.Requests), PerTask(baseEnqueue, p => p.Redis.TotalCommands), null));
            foreach (var c in s_claimers)
            {
                var storeDrain = store[c].Select(r => r.Drain).ToList();
                var baseDrain = baseline[c].Select(r => r.Drain).ToList();
                var rate = Stat.Of(storeDrain.Select(p => p.TasksPerSecond));
                var baseRate = Stat.Of(baseDrain.Select(p => p.TasksPerSecond));
                rows.Add(($"claim+complete: store, {c} claimer{(c > 1 ? "s" : "")}, batches of {settings.Batch}", rate,
                    PerTask(storeDrain, p => p.Requests), PerTask(storeDrain, p => p.Redis.TotalCommands), rate.Median / baseRate.Median));
                rows.Add(($"claim+complete: baseline XREADGROUP+XACK, {c} consumer{(c > 1 ? "s" : "")}", baseRate,
                    PerTask(baseDrain, p => p.Requests), PerTask(baseDrain, p => p.Redis.TotalCommands), null));
            }

            foreach (var c in s_claimers)
            {
                var rate = Stat.Of(store[c].Select(r => r.EndToEndPerSecond));
                var baseRate = Stat.Of(baseline[c].Select(r => r.EndToEndPerSecond));
                rows.Add(($"end to end (enqueue, then drain): store, {c} claimer{(c > 1 ? "s" : "")}", rate,
                    PerTask(store[c], r => r.Enqueue.Requests + r.Drain.Requests),
                    PerTask(store[c], r => r.Enqueue.Redis.TotalCommands + r.Drain.Redis.TotalCommands), rate.Median / baseRate.Median));
                rows.Add(($"end to end (enqueue, then drain): baseline, {c} consumer{(c > 1 ? "s" : "")}", baseRate,
                    PerTask(baseline[c], r => r.Enqueue.Requests + r.Drain.Requests),
                    PerTask(baseline[c], r => r.Enqueue.Redis.TotalCommands + r.Drain.Redis.TotalCommands), null));
            }

            var width = rows.Max(r => r.Scenario.Length);
            Console.WriteLine();
            Console.WriteLine(
                $"{"scenario".PadRight(width)}  {"tasks/s median (min-max)",-30}  {"round trips/task",16}  {"Redis cmds/task",15}  {"store/baseline",14}");
            Console.WriteLine(new string('-', width + 83));
            foreach (var (scenario, rate, requests, commands, ratio) in rows)
            {
                Console.WriteLine(
                    $"{scenario.PadRight(width)}  {rate,-30}  {requests,16:0.000}  {commands,15:0.00}  {(ratio is { } r ? r.ToString("P0", CultureInfo.InvariantCulture) : ""),14}");
            }

            Console.WriteLine();
            Console.WriteLine(
                $"enqueue figures: median of all {storeEnqueue.Count} enqueue phases. Round trips = requests the client sent (one EVALSHA per " +
                "store call; one XADD per entry, pipelined, for the baseline). Redis cmds = total_commands_processed, which counts the " +
                "commands scripts run too. End to end = tasks / (enqueue time + drain time).");
        }

        private void PrintProfile(Dictionary<int, List<Run>> store)
        {
            Console.WriteLine();
            Console.WriteLine("where the store's time goes in Redis (INFO commandstats over the measured runs, per task):");
            var phases = new (string Name, List<Phase> Phases)[]
            {
                ("enqueue", [.. store.Values.SelectMany(r => r).Select(r => r.Enqueue)]),
                ("claim+complete, 1 claimer", [.. store[1].Select(r => r.Drain)]),
                ("claim+complete, 4 claimers", [.. store[4].Select(r => r.Drain)]),
            };
            foreach (var (name, list) in phases)
            {
                var tasks = (double)list.Sum(p => p.Tasks);
                var seconds = list.Sum(p => p.Seconds);
                var scripts = list.Sum(p => p.Redis.ScriptCalls);
                var scriptUsec = list.Sum(p => p.Redis.Commands.GetValueOrDefault("evalsha").Usec + p.Redis.Commands.GetValueOrDefault("eval").Usec);
                var inner = list
                    .SelectMany(p => p.Redis.Commands)
                    .Where(c => c.Key is not ("evalsha" or "eval"))
                    .GroupBy(c => c.Key, StringComparer.Ordinal)
                    .Select(g => (Command: g.Key, Calls: g.Sum(c => c.Value.Calls), Usec: g.Sum(c => c.Value.Usec)))
                    .OrderByDescending(c => c.Usec)
                    .ToList();
                var innerUsec = inner.Sum(c => c.Usec);
                var cpu = list.Sum(p => p.Redis.CpuSeconds);
                var clientCpu = list.Sum(p => p.ClientCpuSeconds);
                Console.WriteLine(
                    $"\n  {name}: CPU (share of one core over the wall time): Redis {cpu / seconds:P0}, this client {clientCpu / seconds:P0}; " +
                    $"Redis CPU {cpu * 1e6 / tasks:0.0} us/task, client CPU {clientCpu * 1e6 / tasks:0.0} us/task");
                Console.WriteLine(
                    $"    {scripts / tasks:0.000} script calls/task at " +
                    $"{(scripts > 0 ? scriptUsec / (double)scripts : 0):N0} us each = {scriptUsec / tasks:0.0} us/task in scripts, of which " +
                    $"{innerUsec / tasks:0.0} us in the commands they call and {(scriptUsec - innerUsec) / tasks:0.0} us Lua and call overhead");
                Console.WriteLine($"    {"command",-22}{"calls/task",12}{"us/task",10}{"us/call",10}");
                foreach (var (command, calls, usec) in inner.Take(14))
                {
                    Console.WriteLine($"    {command,-22}{calls / tasks,12:0.00}{usec / tasks,10:0.00}{usec / (double)calls,10:0.00}");
                }
            }
        }

        private static double PerTask(IEnumerable<Phase> phases, Func<Phase, long> count) =>
            Median(phases.Select(p => count(p) / (double)p.Tasks));

        private static double PerTask(IEnumerable<Run> runs, Func<Run, long> count) =>
            Median(runs.Select(r => count(r) / (double)r.Enqueue.Tasks));

        private static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length == 0 ? double.NaN
                : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
                : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        private readonly record struct Stat(double Median, double Min, double Max)
        {
            public static Stat Of(IEnumerable<double> values)
            {
                var list = values.ToList();
                return new Stat(Bench.Median(list), list.Min(), list.Max());
            }

            public override string ToString() =>
                string.Create(CultureInfo.InvariantCulture, $"{Median,9:N0}  ({Min:N0}-{Max:N0})");
        }
    }
}
