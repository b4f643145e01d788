using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using Duration = Google.Protobuf.WellKnownTypes.Duration;

namespace TaskQueue.Tests.Faults;

/// <summary>Scenario 9: a storm of bad input; every request gets its status code and Redis gains no key.</summary>
[Collection(DistributedCollection.Name)]
public sealed class BadInputTests(FaultReport report, ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_storm_of_bad_input_gets_the_right_status_codes_and_leaves_no_new_key_in_redis()
    {
        await using var run = await FaultRun.StartAsync("9. bad input storm", report, output, new() { Lease = TimeSpan.FromSeconds(30), OwnRedis = [] });
        var broker = run.Cluster.Brokers[0];
        var client = run.Cluster.Client();
        var channel = run.Cluster.Channel(broker, run.Cluster.AdminKey);

        // A worker on a raw stream: task A it completed (its token is spent), task B it still holds.
        var (worker, _) = await RawWorker.ConnectAsync(run.Cluster.WorkerClient(), $"raw-{run.Queue}", run.Queue, 1);
        await using var rawWorker = worker;
        var a = await LeaseAsync(run, worker);
        await worker.SendAsync(Completed(a.TaskId, a.LeaseToken, "done"));
        await run.WaitUntilAsync(async () => (await run.SnapshotsAsync([a.TaskId]))[0]?.State == Broker.Storage.TaskState.Completed, Wait, "task A completed");
        var b = await LeaseAsync(run, worker);
        worker.StartHeartbeats(TimeSpan.FromSeconds(1), () => [new RunningTask { TaskId = b.TaskId, LeaseToken = b.LeaseToken }]);

        var keysBefore = await KeysAsync(run.Redis!);
        var tasksBefore = await TaskHashesAsync(run.Redis!, a.TaskId, b.TaskId);
        var storm = new Storm();
        var unknownId = new TaskId(run.Queue, Guid.NewGuid().ToString("N")).ToString();

        var oversized = run.Cluster.Task("echo");
        oversized.Payload = ByteString.CopyFrom(new byte[(1024 * 1024) + 1]);
        await storm.ExpectAsync("payload of 1 MiB + 1 byte", StatusCode.ResourceExhausted, () => client.SubmitAsync(new SubmitRequest { Task = oversized }, deadline: Deadline()).ResponseAsync);
        foreach (var queue in new[] { "", "has:colon", "has space", "{tag}", new string('q', 129), "tab\there", "bell\u0007" })
        {
            var bad = run.Cluster.Task("echo");
            bad.Queue = queue;
            await storm.ExpectAsync($"queue name '{queue}'", StatusCode.InvalidArgument, () => client.SubmitAsync(new SubmitRequest { Task = bad }, deadline: Deadline()).ResponseAsync);
            await storm.ExpectAsync($"stats of queue '{queue}'", StatusCode.InvalidArgument, () => client.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = queue }, deadline: Deadline()).ResponseAsync);
            await storm.ExpectAsync($"hello with queue '{queue}'", StatusCode.InvalidArgument, () => HelloAsync(run, new Hello { WorkerId = "w", Concurrency = 1, Queues = { queue } }));
        }

        foreach (var (what, spec) in Invalid(run))
        {
            await storm.ExpectAsync(what, StatusCode.InvalidArgument, () => client.SubmitAsync(new SubmitRequest { Task = spec }, deadline: Deadline()).ResponseAsync);
        }

        await storm.ExpectAsync("submit without a task", StatusCode.InvalidArgument, () => client.SubmitAsync(new SubmitRequest(), deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("batch with one bad task", StatusCode.InvalidArgument, () => client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { run.Cluster.Task("echo"), BadQueue(run) } }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("empty batch", StatusCode.InvalidArgument, () => client.SubmitBatchAsync(new SubmitBatchRequest(), deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("batch of 1001", StatusCode.InvalidArgument, () => client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { Enumerable.Range(0, 1001).Select(_ => run.Cluster.Task("echo")) } }, deadline: Deadline()).ResponseAsync);
        foreach (var id in new[] { "garbage", "", $"{run.Queue}:", $"{run.Queue}:NOT-HEX", "a{b}:0123456789abcdef0123456789abcdef" })
        {
            await storm.ExpectAsync($"get of task id '{id}'", StatusCode.InvalidArgument, () => client.GetAsync(new GetTaskRequest { TaskId = id }, deadline: Deadline()).ResponseAsync);
            await storm.ExpectAsync($"cancel of task id '{id}'", StatusCode.InvalidArgument, () => client.CancelAsync(new CancelTaskRequest { TaskId = id }, deadline: Deadline()).ResponseAsync);
        }

        await storm.ExpectAsync("get of an unknown task", StatusCode.NotFound, () => client.GetAsync(new GetTaskRequest { TaskId = unknownId }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("wait on an unknown task", StatusCode.NotFound, () => client.WaitAsync(new WaitTaskRequest { TaskId = unknownId, Timeout = Duration.FromTimeSpan(TimeSpan.FromSeconds(1)) }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("cancel of an unknown task", StatusCode.NotFound, () => client.CancelAsync(new CancelTaskRequest { TaskId = unknownId }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("get of a task of a queue never used", StatusCode.NotFound, () => client.GetAsync(new GetTaskRequest { TaskId = $"never-{run.Queue}:{Guid.NewGuid():N}" }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("cancel of a finished task", StatusCode.FailedPrecondition, () => client.CancelAsync(new CancelTaskRequest { TaskId = a.TaskId }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("replay naming nothing", StatusCode.InvalidArgument, () => client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = run.Queue }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("replay of another queue's task", StatusCode.InvalidArgument, () => client.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = "other", TaskIds = { a.TaskId } }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("purge naming ids and all", StatusCode.InvalidArgument, () => client.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Queue = run.Queue, TaskIds = { a.TaskId }, All = true }, deadline: Deadline()).ResponseAsync);
        await storm.ExpectAsync("dead letters, limit 5000", StatusCode.InvalidArgument, () => client.ListDeadLettersAsync(new ListDeadLettersRequest { Queue = run.Queue, Limit = 5000 }, deadline: Deadline()).ResponseAsync);

        await storm.ExpectAsync("worker stream opening with a heartbeat", StatusCode.FailedPrecondition, () => OpenWithAsync(run, new WorkerMessage { Heartbeat = new Heartbeat() }));
        await storm.ExpectAsync("hello without a worker id", StatusCode.InvalidArgument, () => HelloAsync(run, new Hello { Concurrency = 1, Queues = { run.Queue } }));
        await storm.ExpectAsync("hello with concurrency 0", StatusCode.InvalidArgument, () => HelloAsync(run, new Hello { WorkerId = "w", Queues = { run.Queue } }));
        await storm.ExpectAsync("hello without queues", StatusCode.InvalidArgument, () => HelloAsync(run, new Hello { WorkerId = "w", Concurrency = 1 }));

        var garbage = new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x0A, 0xFF, 0x01, 0x02 };
        // A request that does not parse is bad input (the broker's parsing guard; grpc-dotnet alone says UNKNOWN).
        await storm.ExpectAsync("garbage bytes as a submit", StatusCode.InvalidArgument, () => RawUnaryAsync(channel, "taskqueue.v1.TaskService", "Submit", garbage));
        await storm.ExpectAsync("garbage bytes as a batch", StatusCode.InvalidArgument, () => RawUnaryAsync(channel, "taskqueue.v1.TaskService", "SubmitBatch", [.. Enumerable.Range(0, 1000).Select(i => (byte)(i * 37))]));
        await storm.ExpectAsync("garbage bytes on a worker stream", StatusCode.InvalidArgument, () => RawStreamAsync(channel, garbage));
        await storm.ExpectAsync("a 17 MiB message", StatusCode.ResourceExhausted, () => RawUnaryAsync(channel, "taskqueue.v1.TaskService", "Submit", new byte[17 * 1024 * 1024]));
        await storm.ExpectAsync("an unknown method", StatusCode.Unimplemented, () => RawUnaryAsync(channel, "taskqueue.v1.TaskService", "DropAllTables", []));

        // Reports on the worker's own stream: the broker answers lease_lost and changes nothing.
        var forged = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        await storm.ExpectLeaseLostAsync("completion with a forged token", worker, b.TaskId, Completed(b.TaskId, forged, "forged"));
        await storm.ExpectLeaseLostAsync("completion with another task's token", worker, b.TaskId, Completed(b.TaskId, a.LeaseToken, "foreign"));
        await storm.ExpectLeaseLostAsync("replayed completion of a finished task", worker, a.TaskId, Completed(a.TaskId, a.LeaseToken, "replayed"));
        await storm.ExpectLeaseLostAsync("failure with a forged token", worker, b.TaskId, new WorkerMessage { Failed = new TaskFailed { TaskId = b.TaskId, LeaseToken = forged, Error = "forged", Retryable = false } });
        await storm.ExpectLeaseLostAsync("hand-back with a forged token", worker, b.TaskId, new WorkerMessage { Released = new TaskReleased { TaskId = b.TaskId, LeaseToken = forged } });
        await storm.ExpectLeaseLostAsync("completion of an unknown task", worker, unknownId, Completed(unknownId, forged, "unknown"));
        await storm.ExpectLeaseLostAsync("completion of a malformed task id", worker, "not-an-id", Completed("not-an-id", forged, "malformed"));
        await storm.ExpectLeaseLostAsync("heartbeat renewing with a forged token", worker, b.TaskId, new WorkerMessage { Heartbeat = new Heartbeat { Running = { new RunningTask { TaskId = b.TaskId, LeaseToken = forged } } } });

        var stormSize = storm.Count;
        var newKeys = new List<string>();
        await run.WaitUntilAsync(
            async () =>
            {
                // The audit trail records the refused admin calls (cancel, replay, purge): that stream is meant to grow.
                newKeys = [.. (await KeysAsync(run.Redis!)).Except(keysBefore).Where(key => key != RedisKeys.Audit)];
                return newKeys.Count == 0;
            },
            Wait,
            "the keys some requests touched on the way are gone again");
        var tasksAfter = await TaskHashesAsync(run.Redis!, a.TaskId, b.TaskId);
        // The real holder of B still holds it: its completion counts.
        await worker.SendAsync(Completed(b.TaskId, b.LeaseToken, "real"));
        await run.WaitUntilAsync(async () => (await run.SnapshotsAsync([b.TaskId]))[0]?.State == Broker.Storage.TaskState.Completed, Wait, "task B completed by its holder");
        run.Note("hostile requests / answered as expected", $"{stormSize} / {stormSize - storm.Wrong.Count - storm.Tolerated.Count} (+ {storm.Tolerated.Count} tolerated)");
        run.Note("answered otherwise than the gRPC status table says", storm.Tolerated.Count == 0 ? "none" : string.Join("; ", storm.Tolerated));
        run.Note("Redis keys before / new after", $"{keysBefore.Count} / {newKeys.Count}");
        var ledger = await run.SettleAsync();

        run.Verify(ledger, () =>
        {
            Assert.Empty(storm.Wrong);
            Assert.Empty(newKeys);
            Assert.Equal(tasksBefore, tasksAfter);
            Assert.Equal(2, ledger.Completed);
            Assert.Equal(0, ledger.Lost);
            Assert.Equal(0, ledger.DuplicateCompletionsRecorded);
        });
    }

    [Fact]
    public async Task Durations_and_timestamps_outside_the_protobuf_range_are_invalid_arguments()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        var delay = cluster.Task("echo");
        delay.Delay = new Duration { Seconds = 1, Nanos = 2_000_000_000 };
        var notBefore = cluster.Task("echo");
        notBefore.NotBefore = new Google.Protobuf.WellKnownTypes.Timestamp { Seconds = long.MaxValue };

        // Well-formed protobuf that ToTimeSpan / ToDateTimeOffset refuse (InvalidOperationException): bad input.
        var delayError = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitRequest { Task = delay }, deadline: Deadline()).ResponseAsync);
        var notBeforeError = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitRequest { Task = notBefore }, deadline: Deadline()).ResponseAsync);

        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument), (delayError.StatusCode, notBeforeError.StatusCode));
        Assert.Equal(0, (await cluster.Store.GetCountsAsync(cluster.Queue)).Submitted);
    }

    private static DateTime Deadline() => DateTime.UtcNow + Wait;

    private static TaskSpec BadQueue(FaultRun run)
    {
        var spec = run.Cluster.Task("echo");
        spec.Queue = "bad queue";
        return spec;
    }

    private static WorkerMessage Completed(string taskId, string token, string result) =>
        new() { Completed = new TaskCompleted { TaskId = taskId, LeaseToken = token, Result = ByteString.CopyFromUtf8(result) } };

    private static async Task<TaskAssignment> LeaseAsync(FaultRun run, RawWorker worker)
    {
        Assert.Single(await run.Load.SubmitAsync([run.Cluster.Task("echo", "real")]));
        return (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, Wait)).Assignment;
    }

    private static IEnumerable<(string What, TaskSpec Spec)> Invalid(FaultRun run)
    {
        TaskSpec With(Action<TaskSpec> change)
        {
            var spec = run.Cluster.Task("echo");
            change(spec);
            return spec;
        }

        yield return ("empty type", With(s => s.Type = ""));
        yield return ("type with a control character", With(s => s.Type = "echo\n"));
        yield return ("priority 10", With(s => s.Priority = 10));
        yield return ("priority -1", With(s => s.Priority = -1));
        yield return ("max attempts -1", With(s => s.MaxAttempts = -1));
        yield return ("negative delay", With(s => s.Delay = Duration.FromTimeSpan(TimeSpan.FromSeconds(-1))));
        yield return ("zero execution timeout", With(s => s.ExecutionTimeout = new Duration()));
        yield return ("negative expiry", With(s => s.ExpiresAfter = Duration.FromTimeSpan(TimeSpan.FromSeconds(-5))));
        yield return ("idempotency key of 1000 characters", With(s => s.IdempotencyKey = new string('k', 1000)));
    }

    private static async Task HelloAsync(FaultRun run, Hello hello) => await OpenWithAsync(run, new WorkerMessage { Hello = hello });

    private static async Task OpenWithAsync(FaultRun run, WorkerMessage first)
    {
        using var call = run.Cluster.WorkerClient().Connect(deadline: Deadline());
        await call.RequestStream.WriteAsync(first);
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            if (call.ResponseStream.Current.KindCase == BrokerMessage.KindOneofCase.Welcome)
            {
                return;
            }
        }
    }

    private static readonly Marshaller<byte[]> s_bytes = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static async Task RawUnaryAsync(GrpcChannel channel, string service, string method, byte[] body) =>
        await channel.CreateCallInvoker().AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, service, method, s_bytes, s_bytes), null, new CallOptions(deadline: Deadline()), body);

    private static async Task RawStreamAsync(GrpcChannel channel, byte[] body)
    {
        using var call = channel.CreateCallInvoker().AsyncDuplexStreamingCall(
            new Method<byte[], byte[]>(MethodType.DuplexStreaming, "taskqueue.v1.WorkerService", "Connect", s_bytes, s_bytes), null, new CallOptions(deadline: Deadline()));
        await call.RequestStream.WriteAsync(body);
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }

    private static async Task<List<string>> KeysAsync(RedisServer redis)
    {
        var keys = new List<string>();
        await foreach (var key in redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]).KeysAsync(pattern: "*"))
        {
            keys.Add(key!);
        }

        return [.. keys.Order(StringComparer.Ordinal)];
    }

    private static async Task<List<string>> TaskHashesAsync(RedisServer redis, params string[] ids)
    {
        var fields = new List<string>();
        foreach (var id in ids)
        {
            var entries = await redis.Connection.GetDatabase().HashGetAllAsync(RedisKeys.Task(TaskId.Parse(id)));
            fields.AddRange(entries.Select(e => $"{id} {e.Name}={e.Value}").Order(StringComparer.Ordinal));
        }

        return fields;
    }

    /// <summary>Each hostile request with the answer it should get and the one it got.</summary>
    private sealed class Storm
    {
        private readonly List<string> _wrong = [];
        private readonly List<string> _tolerated = [];

        public int Count { get; private set; }

        public IReadOnlyList<string> Wrong => _wrong;

        /// <summary>Answers that differ from the expected code only by a known deviation.</summary>
        public IReadOnlyList<string> Tolerated => _tolerated;

        public async Task ExpectAsync(string request, StatusCode expected, Func<Task> call, StatusCode? tolerated = null)
        {
            Count++;
            StatusCode actual;
            try
            {
                await call();
                actual = StatusCode.OK;
            }
            catch (RpcException ex)
            {
                actual = ex.StatusCode;
            }

            if (actual == tolerated)
            {
                _tolerated.Add($"{request}: {actual} (not {expected})");
            }
            else if (actual != expected)
            {
                _wrong.Add($"{request}: {actual}, expected {expected}");
            }
        }

        public async Task ExpectLeaseLostAsync(string report, RawWorker worker, string taskId, WorkerMessage message)
        {
            Count++;
            await worker.SendAsync(message);
            try
            {
                var answer = await worker.NextAsync(BrokerMessage.KindOneofCase.LeaseLost, Wait);
                if (answer.LeaseLost.TaskId != taskId)
                {
                    _wrong.Add($"{report}: lease_lost for {answer.LeaseLost.TaskId}, expected for {taskId}");
                }
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                _wrong.Add($"{report}: no lease_lost");
            }
        }
    }
}
