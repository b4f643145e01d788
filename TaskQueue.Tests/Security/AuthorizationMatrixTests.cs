using Google.Protobuf;
using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;
using Duration = Google.Protobuf.WellKnownTypes.Duration;

namespace TaskQueue.Tests.Security;

/// <summary>
/// Every TaskService RPC and the worker stream, called by each kind of caller: no credentials, a key the broker does
/// not know, an expired JWT (UNAUTHENTICATED); a known caller whose scopes are for other queues or for another action
/// (PERMISSION_DENIED); the right scope as an API key and as a JWT (the call runs). Redis's key set (a Redis of the
/// test's own) is unchanged after every refusal.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class AuthorizationMatrixTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    private enum Caller
    {
        None,
        UnknownKey,
        ExpiredJwt,
        OtherQueues,
        OtherAction,
        RightKey,
        RightJwt,
    }

    [Fact]
    public async Task Every_rpc_and_the_worker_stream_answer_each_kind_of_caller_with_its_code_and_no_refusal_changes_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        var queue = "sec-" + Guid.NewGuid().ToString("N")[..8];
        var tokens = new TestTokens();
        var keys = new Dictionary<string, string>
        {
            ["outsider"] = ApiKeys.Create(), ["submitter"] = ApiKeys.Create(), ["reader"] = ApiKeys.Create(),
            ["admin"] = ApiKeys.Create(), ["consumer"] = ApiKeys.Create(),
        };
        var settings = new Dictionary<string, string>(tokens.BrokerSettings());
        foreach (var (name, scopes) in new Dictionary<string, string>
                 {
                     ["outsider"] = "submit:elsewhere-* consume:elsewhere-* read:elsewhere-* admin:elsewhere-*",
                     ["submitter"] = $"submit:{queue}", ["reader"] = $"read:{queue}", ["admin"] = $"admin:{queue}", ["consumer"] = $"consume:{queue}",
                 })
        {
            foreach (var (key, value) in TestCredentials.KeySettings(name, keys[name], scopes))
            {
                settings[key] = value;
            }
        }

        await using var cluster = await TaskQueueCluster.StartAsync(redis, brokerSettings: settings);
        var broker = await cluster.StartBrokerAsync();
        var existing = (await cluster.Client(broker).SubmitAsync(new SubmitRequest { Task = Spec(queue) })).TaskId;
        var unknown = new TaskId(queue, Guid.NewGuid().ToString("N")).ToString();
        var expired = tokens.Create("ops", "submit:* consume:* read:* admin:*", DateTime.UtcNow.AddHours(-1));
        var rightJwt = tokens.Create("app", $"submit:{queue} consume:{queue} admin:{queue}", DateTime.UtcNow.AddHours(1));
        // A worker of the queue in the registry, for DrainWorker (which needs admin on every queue the worker consumes); written
        // as a broker's heartbeat writes it, so no session's keys appear while the matrix runs.
        await new WorkerRegistry(redis.Connection).HeartbeatAsync(
            "matrix-drainable", "broker-elsewhere", [queue], 1, 0, 0, connected: true, DateTimeOffset.UtcNow, connectedAt: DateTimeOffset.UtcNow);

        // Each RPC: the key with the right scope, the key with another action on the same queue, the call, and what the call answers when allowed.
        var rpcs = new (string Name, string Right, string OtherAction, Func<TaskService.TaskServiceClient, Task> Call, StatusCode? Allowed)[]
        {
            ("Submit", "submitter", "reader", c => c.SubmitAsync(new SubmitRequest { Task = Spec(queue) }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("SubmitBatch", "submitter", "admin", c => c.SubmitBatchAsync(new SubmitBatchRequest { Tasks = { Spec(queue), Spec(queue) } }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("Get", "reader", "submitter", c => c.GetAsync(new GetTaskRequest { TaskId = existing }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("Wait", "reader", "consumer", c => c.WaitAsync(new WaitTaskRequest { TaskId = existing, Timeout = new Duration() }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("GetQueueStats", "reader", "submitter", c => c.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ListDeadLetters", "reader", "consumer", c => c.ListDeadLettersAsync(new ListDeadLettersRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("Cancel", "admin", "reader", c => c.CancelAsync(new CancelTaskRequest { TaskId = unknown }, deadline: Deadline()).ResponseAsync, StatusCode.NotFound),
            ("ReplayDeadLetters", "admin", "reader", c => c.ReplayDeadLettersAsync(new ReplayDeadLettersRequest { Queue = queue, All = true }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("PurgeDeadLetters", "admin", "submitter", c => c.PurgeDeadLettersAsync(new PurgeDeadLettersRequest { Queue = queue, All = true }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            // Its implementation is another part of the work: any answer but a refusal shows the call got past authorisation.
            ("Watch", "reader", "submitter", async c =>
            {
                using var watch = c.Watch(new WatchTaskRequest { TaskId = existing }, deadline: Deadline());
                await watch.ResponseStream.MoveNext(CancellationToken.None);
            }, StatusCode.OK),
            ("Explain", "reader", "consumer", c => c.ExplainAsync(new ExplainTaskRequest { TaskId = existing }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ListTasks", "reader", "submitter", c => c.ListTasksAsync(new ListTasksRequest { Queue = queue, State = Protocol.V1.TaskState.Ready }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ListAuditEntries", "admin", "reader", c => c.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, null),
            // Flow control: changes need admin, the read needs read.
            ("PauseQueue", "admin", "reader", c => c.PauseQueueAsync(new PauseQueueRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ResumeQueue", "admin", "submitter", c => c.ResumeQueueAsync(new ResumeQueueRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("SetQueueLimits", "admin", "reader", c => c.SetQueueLimitsAsync(new SetQueueLimitsRequest { Queue = queue, Limits = new QueueLimits() }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("SetGroupLimits", "admin", "consumer", c => c.SetGroupLimitsAsync(new SetGroupLimitsRequest { Queue = queue, Group = "g", Limits = new GroupLimits { Concurrency = 1 } }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ClearGroupLimits", "admin", "reader", c => c.ClearGroupLimitsAsync(new ClearGroupLimitsRequest { Queue = queue, Group = "g" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("GetQueueFlow", "reader", "submitter", c => c.GetQueueFlowAsync(new GetQueueFlowRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            // Schedules: changes need admin, reads need read. In this order each allowed caller creates, reads, pauses,
            // resumes, triggers and deletes the same schedule.
            ("UpsertSchedule", "admin", "submitter", c => c.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = Schedule(queue) }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("GetSchedule", "reader", "submitter", c => c.GetScheduleAsync(new GetScheduleRequest { Queue = queue, Name = "matrix" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ListSchedules", "reader", "consumer", c => c.ListSchedulesAsync(new ListSchedulesRequest { Queue = queue }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("PauseSchedule", "admin", "reader", c => c.PauseScheduleAsync(new PauseScheduleRequest { Queue = queue, Name = "matrix" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("ResumeSchedule", "admin", "reader", c => c.ResumeScheduleAsync(new ResumeScheduleRequest { Queue = queue, Name = "matrix" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("TriggerSchedule", "admin", "submitter", c => c.TriggerScheduleAsync(new TriggerScheduleRequest { Queue = queue, Name = "matrix" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            ("DeleteSchedule", "admin", "reader", c => c.DeleteScheduleAsync(new DeleteScheduleRequest { Queue = queue, Name = "matrix" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
            // Workers: the edge lets through admin on some queue, the service demands it on the worker's queues (outsider: denied).
            ("DrainWorker", "admin", "reader", c => c.DrainWorkerAsync(new DrainWorkerRequest { WorkerId = "matrix-drainable" }, deadline: Deadline()).ResponseAsync, StatusCode.OK),
        };
        // The dashboard's: GetIdentity needs no scope at all (a caller may always learn who it is); ListQueues needs read on
        // some queue and answers the outsider (read on other queues) with only those, so OtherQueues is allowed there.
        var listed = new List<string>();
        var dashboardRpcs = new (string Name, string Right, string OtherAction, Func<TaskService.TaskServiceClient, Task> Call, Func<Caller, StatusCode> Expected)[]
        {
            ("GetIdentity", "consumer", "submitter", c => c.GetIdentityAsync(new GetIdentityRequest(), deadline: Deadline()).ResponseAsync, _ => StatusCode.OK),
            ("ListQueues", "reader", "consumer", async c => listed.AddRange((await c.ListQueuesAsync(new ListQueuesRequest(), deadline: Deadline())).Queues),
                caller => caller == Caller.OtherAction ? StatusCode.PermissionDenied : StatusCode.OK),
        };
        Assert.Equal(
            TaskService.Descriptor.Methods.Select(m => m.Name).Order(StringComparer.Ordinal),
            rpcs.Select(r => r.Name).Concat(dashboardRpcs.Select(r => r.Name)).Order(StringComparer.Ordinal));

        string? Credential(Caller caller, string right, string otherAction) => caller switch
        {
            Caller.None => null,
            Caller.UnknownKey => ApiKeys.Create(),
            Caller.ExpiredJwt => expired,
            Caller.OtherQueues => keys["outsider"],
            Caller.OtherAction => keys[otherAction],
            Caller.RightKey => keys[right],
            _ => rightJwt,
        };

        var keysBefore = (await KeysAsync(redis)).Where(key => key != RedisKeys.Audit).ToList();
        var wrong = new List<string>();
        var table = new List<string>();
        // Refusals first, each checked against the key set; then the calls that are allowed (they may write).
        foreach (var caller in Enum.GetValues<Caller>())
        {
            foreach (var rpc in rpcs)
            {
                var client = cluster.Client(broker, Credential(caller, rpc.Right, rpc.OtherAction), anonymous: caller == Caller.None);
                var code = await RpcCodes.Of(() => rpc.Call(client));
                Check(rpc.Name, caller, code, rpc.Allowed);
                // A refusal past the edge (DrainWorker's, by the outsider) is recorded on the audit trail: the one key a refusal may add.
                if (Refused(caller) && await KeysAsync(redis) is var now && !now.Where(key => key != RedisKeys.Audit).SequenceEqual(keysBefore))
                {
                    wrong.Add($"{rpc.Name} by {caller}: Redis keys changed ({string.Join(", ", now.Except(keysBefore))})");
                }
            }

            foreach (var rpc in dashboardRpcs)
            {
                var client = cluster.Client(broker, Credential(caller, rpc.Right, rpc.OtherAction), anonymous: caller == Caller.None);
                var code = await RpcCodes.Of(() => rpc.Call(client));
                var expected = caller is Caller.None or Caller.UnknownKey or Caller.ExpiredJwt ? StatusCode.Unauthenticated : rpc.Expected(caller);
                table.Add($"{rpc.Name,-22} {caller,-12} {code}");
                if (code != expected)
                {
                    wrong.Add($"{rpc.Name} by {caller}: {code}, expected {expected}");
                }

                if (caller == Caller.OtherQueues && listed.Contains(queue))
                {
                    wrong.Add($"ListQueues by {caller} listed {queue}, which it may not read");
                }

                listed.Clear();
            }

            var connect = await ConnectAsync(cluster, broker, Credential(caller, "consumer", "submitter"), caller == Caller.None, queue, $"matrix-{caller}");
            Check("WorkerService.Connect", caller, connect, StatusCode.OK);
            if (Refused(caller) && await KeysAsync(redis) is var after && !after.Where(key => key != RedisKeys.Audit).SequenceEqual(keysBefore))
            {
                wrong.Add($"Connect by {caller}: Redis keys changed ({string.Join(", ", after.Except(keysBefore))})");
            }
        }

        output.WriteLine(string.Join("\n", table));
        Assert.Empty(wrong);

        void Check(string rpc, Caller caller, StatusCode code, StatusCode? allowed)
        {
            var expected = caller switch
            {
                Caller.None or Caller.UnknownKey or Caller.ExpiredJwt => StatusCode.Unauthenticated,
                Caller.OtherQueues or Caller.OtherAction => StatusCode.PermissionDenied,
                _ => allowed,
            };
            table.Add($"{rpc,-22} {caller,-12} {code}");
            var ok = expected is { } e ? code == e : code is not (StatusCode.Unauthenticated or StatusCode.PermissionDenied);
            if (!ok)
            {
                wrong.Add($"{rpc} by {caller}: {code}, expected {expected?.ToString() ?? "no refusal"}");
            }
        }
    }

    private static bool Refused(Caller caller) => caller is not (Caller.RightKey or Caller.RightJwt);

    private static TaskSpec Spec(string queue) => new() { Queue = queue, Type = "echo", Payload = ByteString.CopyFromUtf8("matrix") };

    private static ScheduleSpec Schedule(string queue) =>
        new() { Queue = queue, Name = "matrix", Cron = "0 3 * * *", Template = new ScheduleTemplate { Type = "echo" } };

    private static DateTime Deadline() => DateTime.UtcNow + s_wait;

    /// <summary>Opens a worker stream with a Hello for the queue: OK once welcomed, else the status it ended with.</summary>
    internal static async Task<StatusCode> ConnectAsync(
        TaskQueueCluster cluster, TaskQueueCluster.Broker broker, string? key, bool anonymous, string queue, string workerId)
    {
        using var call = cluster.WorkerClient(broker, key, anonymous).Connect(deadline: Deadline());
        try
        {
            await call.RequestStream.WriteAsync(new WorkerMessage { Hello = new Hello { WorkerId = workerId, Queues = { queue }, Concurrency = 1 } });
        }
        catch (RpcException ex)
        {
            return ex.StatusCode; // The broker ended the call before reading the Hello.
        }

        try
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                if (call.ResponseStream.Current.KindCase == BrokerMessage.KindOneofCase.Welcome)
                {
                    return StatusCode.OK;
                }
            }

            return call.GetStatus().StatusCode;
        }
        catch (RpcException ex)
        {
            return ex.StatusCode;
        }
    }

    internal static async Task<List<string>> KeysAsync(RedisServer redis)
    {
        var keys = new List<string>();
        await foreach (var key in redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]).KeysAsync(pattern: "*"))
        {
            keys.Add(key!);
        }

        return [.. keys.Order(StringComparer.Ordinal)];
    }
}
