using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// <c>idle-queues</c>: what an idle broker costs when many queues exist. For 10, 1,000 and 10,000 queues that each held
/// one task (submitted, run and completed, kept for the default 24 h retention), one broker and no workers: the broker's
/// and Redis's CPU while nothing happens (% of one core, over the latency duration after a settling pause), and how
/// late a task submitted with a 1 s delay to one of those queues is promoted to ready (its ready time minus its due
/// time, both Redis's clock). Needs the private Redis: it is emptied (FLUSHALL) for each count.
/// </summary>
internal sealed class IdleQueuesScenario(BenchSettings settings, BenchSystem system, RespConnection redis, BenchReport report, TextWriter log, TimeProvider time)
{
    private static readonly int[] s_counts = [10, 1_000, 10_000];

    // Long enough for a broker's first visits of every queue (at start it marks each due once) to end.
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(5);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (settings.Attached || !system.OwnsRedis)
        {
            report.Notes.Add("idle-queues: skipped (it empties the Redis, so it needs the private one)");
            return;
        }

        await using var connection = await ConnectionMultiplexer.ConnectAsync($"{system.RedisEndpoint},allowAdmin=true,syncTimeout=30000,asyncTimeout=30000");
        var store = new RedisTaskStore(connection, Options.Create(new TaskStoreOptions()), new RedisClockShift());
        foreach (var count in s_counts)
        {
            await log.WriteLineAsync($"[{time.GetLocalNow():HH:mm:ss}] idle-queues: {count:N0} queues that each held one task, one idle broker, no workers");
            await redis.CallAsync(cancellationToken, "FLUSHALL");
            await FillAsync(store, count, cancellationToken);
            var broker = await system.StartBrokerAsync(new Dictionary<string, string>(), cancellationToken);
            try
            {
                await Task.Delay(s_settle, time, cancellationToken);
                var client = new BenchClient(broker, system, settings, time);
                for (var run = 0; run < settings.Runs; run++)
                {
                    var (brokerCpu, redisCpu) = await IdleCpuAsync(broker, cancellationToken);
                    report.Add($"idle.queues_{count}.broker_cpu", $"idle broker CPU, {count:N0} queues that each held one task", "% core", brokerCpu);
                    report.Add($"idle.queues_{count}.redis_cpu", $"idle Redis CPU, {count:N0} queues that each held one task", "% core", redisCpu);
                    report.Add($"idle.queues_{count}.delayed_late", $"a 1 s delayed task promoted late, {count:N0} idle queues", "ms",
                        await DelayedLatenessAsync(client.Client, $"idle-{count / 2}", cancellationToken));
                }

                client.Dispose();
            }
            finally
            {
                await system.StopBrokerAsync(broker);
            }
        }

        await redis.CallAsync(cancellationToken, "FLUSHALL");
    }

    // Every queue gets one task, which is claimed and completed: a queue that was used once and is idle now.
    private static async Task FillAsync(RedisTaskStore store, int count, CancellationToken cancellationToken)
    {
        var queues = Enumerable.Range(0, count).Select(i => $"idle-{i}").ToList();
        foreach (var chunk in queues.Chunk(500))
        {
            await store.EnqueueBatchAsync([.. chunk.Select(q => new NewTask(q, "noop", "x"u8.ToArray()))], cancellationToken);
            await Task.WhenAll(chunk.Select(async queue =>
            {
                var task = (await store.ClaimAsync(queue, "idle-bench", 1, TimeSpan.FromSeconds(30), cancellationToken)).Tasks[0];
                await store.CompleteAsync(queue, [new TaskCompletion(task.Id, task.LeaseToken, ReadOnlyMemory<byte>.Empty)], cancellationToken);
            }));
        }
    }

    private async Task<(double Broker, double Redis)> IdleCpuAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        var brokerBefore = broker.Process!.CpuTime();
        var redisBefore = await RedisInfo.ReadAsync(redis, cancellationToken);
        var started = time.GetTimestamp();
        await Task.Delay(settings.LatencyDuration, time, cancellationToken);
        var seconds = time.GetElapsedTime(started).TotalSeconds;
        var redisAfter = await RedisInfo.ReadAsync(redis, cancellationToken);
        var brokerCpu = (broker.Process.CpuTime() - brokerBefore).TotalSeconds;
        return (100 * brokerCpu / seconds, 100 * (redisAfter.CpuSeconds - redisBefore.CpuSeconds) / seconds);
    }

    // Submits a task due in 1 s and reads, once it is ready, how long after its due time it entered its ready stream.
    private async Task<double> DelayedLatenessAsync(TaskQueueClient client, string queue, CancellationToken cancellationToken)
    {
        var id = (await client.SubmitAsync(new TaskRequest { Queue = queue, Type = "noop", Payload = "x"u8.ToArray(), Delay = TimeSpan.FromSeconds(1) }, cancellationToken)).TaskId;
        var key = $"tq:{{{queue}}}:t:{id[(id.LastIndexOf(':') + 1)..]}";
        await BenchSystem.WaitUntilAsync(
            async token => await redis.CallAsync(token, "HGET", key, "state") is "ready",
            () => null,
            $"the delayed task {id}",
            cancellationToken);
        var fields = (object?[])(await redis.CallAsync(cancellationToken, "HMGET", key, "due", "enqueued"))!;
        var late = long.Parse((string)fields[1]!, CultureInfo.InvariantCulture) - long.Parse((string)fields[0]!, CultureInfo.InvariantCulture);
        await client.CancelAsync(id, cancellationToken); // no worker: it would stay ready
        return late;
    }

    // A client of the broker with the benchmark's key.
    private sealed class BenchClient : IDisposable
    {
        private readonly Grpc.Net.Client.GrpcChannel _channel;

        public BenchClient(BrokerEndpoint broker, BenchSystem system, BenchSettings settings, TimeProvider time)
        {
            _channel = Grpc.Net.Client.GrpcChannel.ForAddress(broker.GrpcAddress);
            var invoker = Grpc.Core.Interceptors.CallInvokerExtensions.Intercept(_channel.CreateCallInvoker(), headers =>
            {
                headers.Add("Authorization", $"Bearer {system.ClientKey}");
                return headers;
            });
            Client = new TaskQueueClient(invoker, new TaskQueueClientOptions { BatchSize = settings.Batch, RequestTimeout = settings.Timeout }, time);
        }

        public TaskQueueClient Client { get; }

        public void Dispose() => _channel.Dispose();
    }
}
