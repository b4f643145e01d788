using System.Diagnostics;
using System.Reflection;
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

/// <summary>
/// The abuse limits and the input hygiene on real broker processes: the queue cap, the Wait caps, the worker caps,
/// the submit rate, requests that are not protobuf, and payloads kept out of logs and error texts.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class AbuseLimitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_storm_of_queue_names_and_waits_is_refused_past_the_caps_with_broker_memory_flat_and_work_still_done()
    {
        const int MaxQueues = 20;
        const int PerConnection = 20;
        const int MaxWaits = 50;
        // A Redis of its own: other tests' queues must not count against the cap.
        await using var redis = await RedisServer.StartAsync();
        await using var cluster = await TaskQueueCluster.StartAsync(redis, brokerSettings: new Dictionary<string, string>
        {
            ["TaskQueue__Limits__MaxQueues"] = MaxQueues.ToString(),
            ["TaskQueue__Limits__MaxWaitsPerConnection"] = PerConnection.ToString(),
            ["TaskQueue__Limits__MaxWaits"] = MaxWaits.ToString(),
        });
        var broker = await cluster.StartBrokerAsync();
        cluster.StartWorker("w-storm", concurrency: 4);
        await cluster.WaitForWorkersAsync("w-storm");
        var client = cluster.Client();
        await cluster.WaitAllFinalAsync(await cluster.SubmitAsync([cluster.Task("echo", "warm-up")]), Wait);
        var rssBefore = broker.Process.ResidentBytes();

        // 10,000 new queue names: the first 19 fit beside the worker's queue, every other one is refused.
        var submits = await StormAsync(10_000, 64, i =>
        {
            var spec = cluster.Task("echo", "x");
            spec.Queue = $"storm-{i}";
            return client.SubmitAsync(new SubmitRequest { Task = spec }, deadline: DateTime.UtcNow + Wait).ResponseAsync;
        });
        var helloRefusal = await Assert.ThrowsAsync<RpcException>(() =>
            HelloAsync(cluster, new Hello { WorkerId = "w-new-queues", Concurrency = 1, Queues = { "storm-hello-1", "storm-hello-2" } }));
        var queues = await cluster.Store.GetQueuesAsync();
        var rssAfterFirst = broker.Process.ResidentBytes();
        // The same again with other names: memory a refused call left behind would show as growth here.
        var again = await StormAsync(10_000, 64, i =>
        {
            var spec = cluster.Task("echo", "x");
            spec.Queue = $"storm-again-{i}";
            return client.SubmitAsync(new SubmitRequest { Task = spec }, deadline: DateTime.UtcNow + Wait).ResponseAsync;
        });
        var rssAfterSecond = broker.Process.ResidentBytes();

        // 10,000 concurrent Waits on one HTTP/2 connection: PerConnection are held, every other one is refused at once.
        var pending = (await client.SubmitAsync(new SubmitRequest { Task = Delayed(cluster) })).TaskId;
        using var oneConnection = OneConnectionChannel(cluster, broker);
        var waits = await HoldWaitsAsync([new TaskService.TaskServiceClient(oneConnection)], 10_000, pending, expectedRefusals: 10_000 - PerConnection);

        // Let-go Waits give their slots back (the broker sees the cancels a moment later): every slot is free again
        // before the next phase counts them.
        await AllWaitSlotsComeBackAsync(cluster, broker, pending, MaxWaits, PerConnection);

        // And across connections the total cap holds: 5 connections × 20 Waits, each within its connection's cap.
        var connections = Enumerable.Range(0, 5).Select(_ => OneConnectionChannel(cluster, broker)).ToList();
        var spread = await HoldWaitsAsync([.. connections.Select(c => new TaskService.TaskServiceClient(c))], 20, pending, expectedRefusals: 100 - MaxWaits);
        connections.ForEach(c => c.Dispose());
        await AllWaitSlotsComeBackAsync(cluster, broker, pending, MaxWaits, PerConnection);

        // Normal work still gets done, and the broker holds no more than before.
        var after = await cluster.SubmitAsync([cluster.Task("echo", "after the storm")]);
        var finals = await cluster.WaitAllFinalAsync(after, Wait);
        GC.KeepAlive(finals);
        var rssAfter = broker.Process.ResidentBytes();
        output.WriteLine($"submits to new queues: {Describe(submits)}; queues registered: {queues.Count}; again: {Describe(again)}");
        output.WriteLine($"broker RSS before / after the first and the second 10,000 new queue names: {rssBefore / (1024 * 1024)} / {rssAfterFirst / (1024 * 1024)} / {rssAfterSecond / (1024 * 1024)} MiB");
        output.WriteLine($"hello naming new queues: {helloRefusal.StatusCode}");
        output.WriteLine($"waits on one connection: {Describe(waits)}; spread over connections: {Describe(spread)}");
        output.WriteLine($"broker RSS before / after the storm: {rssBefore / (1024 * 1024)} MiB / {rssAfter / (1024 * 1024)} MiB");

        Assert.Equal(MaxQueues - 1, submits.GetValueOrDefault(StatusCode.OK));
        Assert.Equal(10_000 - (MaxQueues - 1), submits.GetValueOrDefault(StatusCode.ResourceExhausted));
        Assert.Equal(MaxQueues, queues.Count);
        Assert.Equal(10_000, again.GetValueOrDefault(StatusCode.ResourceExhausted));
        Assert.InRange(rssAfterSecond - rssAfterFirst, long.MinValue, 64L * 1024 * 1024);
        Assert.Equal(StatusCode.ResourceExhausted, helloRefusal.StatusCode);
        // Held Waits end when the test lets go of them (CANCELLED, client side): none ended on its own.
        Assert.Equal(PerConnection, waits.GetValueOrDefault(StatusCode.Cancelled));
        Assert.Equal(10_000 - PerConnection, waits.GetValueOrDefault(StatusCode.ResourceExhausted));
        Assert.Equal(MaxWaits, spread.GetValueOrDefault(StatusCode.Cancelled));
        Assert.Equal(100 - MaxWaits, spread.GetValueOrDefault(StatusCode.ResourceExhausted));
        Assert.Equal(Broker.Storage.TaskState.Completed, finals.Single().State);
        // Generous: the storm's garbage may still sit in the GC heap; a leak per refused call would be far above it.
        Assert.InRange(rssAfter - rssBefore, long.MinValue, 200L * 1024 * 1024);
    }

    [Fact]
    public async Task A_caller_over_its_submit_rate_is_refused_with_retry_after_and_succeeds_after_the_delay()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: new Dictionary<string, string>
        {
            ["TaskQueue__Limits__SubmitRate"] = "2",
            ["TaskQueue__Limits__SubmitBurst"] = "5",
        });
        await cluster.StartBrokerAsync();
        var client = cluster.Client();
        await client.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { Enumerable.Range(0, 5).Select(_ => cluster.Task("echo")) } });

        var refused = await Assert.ThrowsAsync<RpcException>(() => client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") }).ResponseAsync);
        var retryAfter = int.Parse(refused.Trailers.GetValue("retry-after")!, System.Globalization.CultureInfo.InvariantCulture);
        await Task.Delay(TimeSpan.FromSeconds(retryAfter));
        var accepted = await client.SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") });

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("retry in", refused.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(retryAfter, 1, 5);
        Assert.False(string.IsNullOrEmpty(accepted.TaskId));
        Assert.Equal(6, (await cluster.Store.GetCountsAsync(cluster.Queue)).Submitted);
    }

    [Fact]
    public async Task A_hello_past_the_concurrency_cap_or_listing_more_running_tasks_than_slots_is_refused()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: new Dictionary<string, string>
        {
            ["TaskQueue__Limits__MaxWorkerConcurrency"] = "8",
        });
        await cluster.StartBrokerAsync();
        // Slots plus the outcomes a worker may offer again after a broken connection; one more is no honest report.
        var allowance = Broker.Limits.LimitOptions.UnsettledReportAllowance;
        var forged = Enumerable.Range(0, 2 + allowance + 1).Select(_ => new RunningTask { TaskId = TaskId.New(cluster.Queue).ToString(), LeaseToken = "t" }).ToArray();

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => HelloAsync(cluster, new Hello { WorkerId = "w-9", Queues = { cluster.Queue }, Concurrency = 9 }));
        var overReported = await Assert.ThrowsAsync<RpcException>(() => HelloAsync(cluster, new Hello { WorkerId = "w-2", Queues = { cluster.Queue }, Concurrency = 2, Running = { forged } }));

        Assert.Equal((StatusCode.InvalidArgument, "hello.concurrency must be 1 to 8."), (tooMany.StatusCode, tooMany.Status.Detail));
        Assert.Equal(StatusCode.InvalidArgument, overReported.StatusCode);
        Assert.Contains("more tasks than hello.concurrency has slots and 4096", overReported.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_heartbeat_listing_100000_running_tasks_is_refused_and_renews_nothing_while_an_honest_one_renews()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        // One task each, in turn: the only worker connected when a task is submitted gets it.
        var (honest, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), "w-honest", cluster.Queue, 1);
        await using var _h = honest;
        await cluster.SubmitAsync([cluster.Task("echo", "a")]);
        var honestTask = Running((await honest.NextAsync(BrokerMessage.KindOneofCase.Assignment, Wait)).Assignment);
        var (forger, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(), "w-forger", cluster.Queue, 8);
        await using var _f = forger;
        await cluster.SubmitAsync([cluster.Task("echo", "b")]);
        var forgerTask = Running((await forger.NextAsync(BrokerMessage.KindOneofCase.Assignment, Wait)).Assignment);
        var before = await LeaseDeadlinesAsync(cluster, honestTask, forgerTask);
        await Task.Delay(TimeSpan.FromMilliseconds(50));

        // The forger's own task among 99,999 made-up ones: none of them may reach Redis.
        await forger.HeartbeatAsync([forgerTask, .. Enumerable.Range(0, 99_999).Select(_ => new RunningTask { TaskId = TaskId.New(cluster.Queue).ToString(), LeaseToken = "t" })]);
        var refused = await forger.Closed.WaitAsync(Wait);
        await honest.HeartbeatAsync(honestTask);
        await Eventually.TrueAsync(async () => (await LeaseDeadlinesAsync(cluster, honestTask))[0] > before[0], Wait, "the honest heartbeat renewed its lease");
        var after = await LeaseDeadlinesAsync(cluster, honestTask, forgerTask);
        const string Refusal = "Worker w-forger listed 100000 running and 0 stuck tasks in a heartbeat with 8 slots: refused";
        await Eventually.TrueAsync(() => Task.FromResult(broker.Process.RecentOutput.Contains(Refusal, StringComparison.Ordinal)), Wait, () => broker.Process.RecentOutput);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Equal("heartbeat lists 100000 running and 0 stuck tasks, more than hello.concurrency (8): refused, no lease renewed.", refused.Detail);
        Assert.True(after[0] > before[0], "the honest heartbeat renewed its lease");
        // Not extended (the stream's end shortens it to the disconnect grace, as any hang-up does).
        Assert.True(after[1] <= before[1], $"the refused heartbeat's lease moved from {before[1]} to {after[1]}");
        Assert.Equal(1, Occurrences(broker.Process.RecentOutput, Refusal));
    }

    private static RunningTask Running(TaskAssignment assignment) => new() { TaskId = assignment.TaskId, LeaseToken = assignment.LeaseToken };

    /// <summary>The lease deadlines (ms) Redis holds for the tasks.</summary>
    private static async Task<long[]> LeaseDeadlinesAsync(TaskQueueCluster cluster, params RunningTask[] tasks)
    {
        var db = cluster.Redis.Connection.GetDatabase();
        var deadlines = new long[tasks.Length];
        for (var i = 0; i < tasks.Length; i++)
        {
            var id = TaskId.Parse(tasks[i].TaskId);
            deadlines[i] = (long)(await db.SortedSetScoreAsync(RedisKeys.Leases(id.Queue), id.LocalId) ?? -1);
        }

        return deadlines;
    }

    [Fact]
    public async Task Garbage_bytes_get_invalid_argument_and_one_warning_per_connection_without_a_stack_trace()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var invoker = CallInvokerOf(cluster.Client());
        var garbage = new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x0A, 0xFF, 0x01, 0x02 };

        var codes = new List<StatusCode>();
        for (var i = 0; i < 20; i++)
        {
            codes.Add((await Assert.ThrowsAsync<RpcException>(() => RawUnaryAsync(invoker, "Submit", garbage))).StatusCode);
            codes.Add((await Assert.ThrowsAsync<RpcException>(() => RawUnaryAsync(invoker, "SubmitBatch", [.. Enumerable.Range(0, 1000).Select(n => (byte)(n * 37))]))).StatusCode);
        }

        var stream = await Assert.ThrowsAsync<RpcException>(() => RawStreamAsync(CallInvokerOf(cluster.WorkerClient()), garbage));
        var accepted = await cluster.Client().SubmitAsync(new SubmitRequest { Task = cluster.Task("echo") });
        var log = broker.Process.RecentOutput;
        output.WriteLine(log);

        Assert.All(codes, code => Assert.Equal(StatusCode.InvalidArgument, code));
        Assert.Equal(StatusCode.InvalidArgument, stream.StatusCode);
        Assert.False(string.IsNullOrEmpty(accepted.TaskId));
        Assert.InRange(Occurrences(log, "is not valid protobuf"), 1, 2);
        Assert.DoesNotContain("Exception was thrown by handler", log, StringComparison.Ordinal);
        Assert.DoesNotContain("Error when executing service method", log, StringComparison.Ordinal);
        Assert.DoesNotContain("InvalidProtocolBufferException", log, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.Store.GetCountsAsync(cluster.Queue)).Submitted);
    }

    [Fact]
    public async Task A_payload_reaches_no_log_line_and_no_error_text()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var worker = cluster.StartWorker("w-payload", concurrency: 2);
        await cluster.WaitForWorkersAsync("w-payload");
        var secret = "SECRET-" + Guid.NewGuid().ToString("N");

        // A payload the handler cannot read: a permanent failure, dead-lettered at once.
        var ids = await cluster.SubmitAsync([cluster.Task("sleep", secret, maxAttempts: 1), cluster.Task("fail", secret, maxAttempts: 1)]);
        var finals = await cluster.WaitAllFinalAsync(ids, Wait);
        var invalidId = await Assert.ThrowsAsync<RpcException>(() => cluster.Client().GetAsync(new GetTaskRequest { TaskId = secret + new string('x', 10_000) }).ResponseAsync);
        await Eventually.TrueAsync(
            () => Task.FromResult(broker.Process.RecentOutput.Contains($"Task {ids[0]} (sleep) on queue {cluster.Queue} was dead-lettered after attempt 1: its error (", StringComparison.Ordinal)),
            Wait,
            () => broker.Process.RecentOutput);

        Assert.All(finals, task => Assert.Equal(Broker.Storage.TaskState.DeadLettered, task.State));
        Assert.All(finals, task => Assert.DoesNotContain(secret, task.LastError ?? "", StringComparison.Ordinal));
        Assert.Contains("non-negative integer", finals[0].LastError, StringComparison.Ordinal);
        Assert.InRange(invalidId.Status.Detail.Length, 1, 300);
        Assert.DoesNotContain(secret, broker.Process.RecentOutput, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, worker.RecentOutput, StringComparison.Ordinal);
    }

    /// <summary>Opens a worker stream with <paramref name="hello"/> and reads it to its end: a refusal throws its RpcException.</summary>
    private static async Task HelloAsync(TaskQueueCluster cluster, Hello hello)
    {
        using var call = cluster.WorkerClient().Connect(deadline: DateTime.UtcNow + Wait);
        await call.RequestStream.WriteAsync(new WorkerMessage { Hello = hello });
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }

    private static TaskSpec Delayed(TaskQueueCluster cluster)
    {
        var spec = cluster.Task("echo", "later");
        spec.Delay = Duration.FromTimeSpan(TimeSpan.FromHours(1));
        return spec;
    }

    /// <summary>
    /// A channel that keeps to one HTTP/2 connection (calls past the server's stream limit queue on it rather than
    /// opening another), with the cluster's all-scopes key.
    /// </summary>
    private static GrpcChannel OneConnectionChannel(TaskQueueCluster cluster, TaskQueueCluster.Broker broker) =>
        TestCredentials.Channel(broker.GrpcAddress, cluster.AdminKey, oneConnection: true);

    /// <summary>
    /// Starts <paramref name="perClient"/> long Waits on each client at once and counts how they end; once
    /// <paramref name="expectedRefusals"/> were refused the held ones are let go (cancelled), so the count does not
    /// depend on how fast the machine is. Without the caps nothing is refused and every Wait is let go after a minute.
    /// </summary>
    /// <summary>
    /// Until <paramref name="total"/> short Waits, spread over connections of at most <paramref name="perConnection"/>,
    /// all pass (none refused for want of a slot): the slots of Waits let go of came back.
    /// </summary>
    private static async Task AllWaitSlotsComeBackAsync(TaskQueueCluster cluster, TaskQueueCluster.Broker broker, string taskId, int total, int perConnection)
    {
        var channels = Enumerable.Range(0, (total + perConnection - 1) / perConnection).Select(_ => OneConnectionChannel(cluster, broker)).ToList();
        try
        {
            var clients = channels.Select(c => new TaskService.TaskServiceClient(c)).ToList();
            await Eventually.TrueAsync(
                async () =>
                {
                    try
                    {
                        await Task.WhenAll(Enumerable.Range(0, total).Select(i => clients[i / perConnection].WaitAsync(
                            new WaitTaskRequest { TaskId = taskId, Timeout = Duration.FromTimeSpan(TimeSpan.FromMilliseconds(200)) }).ResponseAsync));
                        return true;
                    }
                    catch (RpcException ex) when (ex.StatusCode == StatusCode.ResourceExhausted)
                    {
                        return false;
                    }
                },
                Wait,
                () => "the slots of the let-go Waits did not come back");
        }
        finally
        {
            channels.ForEach(c => c.Dispose());
        }
    }

    private static async Task<Dictionary<StatusCode, int>> HoldWaitsAsync(
        IReadOnlyList<TaskService.TaskServiceClient> clients, int perClient, string taskId, int expectedRefusals)
    {
        using var release = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var refused = 0;
        var calls = clients.SelectMany(client => Enumerable.Range(0, perClient).Select(async _ =>
        {
            try
            {
                await client.WaitAsync(
                    new WaitTaskRequest { TaskId = taskId, Timeout = Duration.FromTimeSpan(TimeSpan.FromMinutes(2)) }, cancellationToken: release.Token);
                return StatusCode.OK;
            }
            catch (RpcException ex)
            {
                if (ex.StatusCode == StatusCode.ResourceExhausted && Interlocked.Increment(ref refused) == expectedRefusals)
                {
                    await release.CancelAsync();
                }

                return ex.StatusCode;
            }
        })).ToList();
        var codes = await Task.WhenAll(calls);
        return codes.GroupBy(code => code).ToDictionary(group => group.Key, group => group.Count());
    }

    /// <summary>Runs <paramref name="count"/> calls, at most <paramref name="parallel"/> at once, and counts their status codes.</summary>
    private static async Task<Dictionary<StatusCode, int>> StormAsync<T>(int count, int parallel, Func<int, Task<T>> call)
    {
        var codes = new Dictionary<StatusCode, int>();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallel }, async (i, _) =>
        {
            StatusCode code;
            try
            {
                await call(i);
                code = StatusCode.OK;
            }
            catch (RpcException ex)
            {
                code = ex.StatusCode;
            }

            lock (codes)
            {
                codes[code] = codes.GetValueOrDefault(code) + 1;
            }
        });
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(3), $"the storm took {watch.Elapsed}");
        return codes;
    }

    private static string Describe(Dictionary<StatusCode, int> codes) => string.Join(", ", codes.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"));

    private static int Occurrences(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>The call invoker of a generated client: raw calls on it go over the cluster's own channel (and its credentials).</summary>
    private static CallInvoker CallInvokerOf(ClientBase client) =>
        (CallInvoker)typeof(ClientBase).GetProperty("CallInvoker", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(client)!;

    private static readonly Marshaller<byte[]> s_bytes = Marshallers.Create(bytes => bytes, bytes => bytes);

    private static async Task RawUnaryAsync(CallInvoker invoker, string method, byte[] body) =>
        await invoker.AsyncUnaryCall(
            new Method<byte[], byte[]>(MethodType.Unary, "taskqueue.v1.TaskService", method, s_bytes, s_bytes), null,
            new CallOptions(deadline: DateTime.UtcNow + Wait), body);

    private static async Task RawStreamAsync(CallInvoker invoker, byte[] body)
    {
        using var call = invoker.AsyncDuplexStreamingCall(
            new Method<byte[], byte[]>(MethodType.DuplexStreaming, "taskqueue.v1.WorkerService", "Connect", s_bytes, s_bytes), null,
            new CallOptions(deadline: DateTime.UtcNow + Wait));
        await call.RequestStream.WriteAsync(body);
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
        }
    }
}
