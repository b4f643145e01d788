using System.Diagnostics;
using Grpc.Core;
using TaskQueue.Broker.Schedules;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Distributed;

/// <summary>
/// Schedules across real broker processes over one Redis: every broker runs the scheduler, and a slot still creates
/// exactly one task — through a broker's SIGKILL and restart and a storm of concurrent upserts.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class ScheduleProcessTests(ITestOutputHelper output)
{
    private const string EverySecond = "*/1 * * * * *";

    [Fact]
    public async Task Three_brokers_a_kill_and_an_upsert_storm_create_exactly_one_task_per_slot_for_60_seconds()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            await cluster.StartBrokerAsync();
        }

        var clients = cluster.Brokers.Select(b => cluster.Client(b)).ToList();
        var first = (await clients[0].UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = Spec(cluster.Queue, "a") })).Schedule.NextRun.ToDateTimeOffset();
        using var storm = new CancellationTokenSource();
        var upserts = new int[3];
        // Two callers upsert all the time, each to every broker in turn: one the same definition, one a changed one.
        var stormers = new[] { "a", "changing" }.Select((kind, k) => Task.Run(async () =>
        {
            for (var n = 0; !storm.IsCancellationRequested; n++)
            {
                var payload = kind == "a" ? "a" : (n % 2 == 0 ? "b" : "c");
                try
                {
                    await cluster.Client(cluster.Brokers[n % 3]).UpsertScheduleAsync(
                        new UpsertScheduleRequest { Schedule = Spec(cluster.Queue, payload) }, cancellationToken: storm.Token);
                    Interlocked.Increment(ref upserts[k]);
                }
                catch (RpcException ex) when (ex.StatusCode is StatusCode.Unavailable or StatusCode.Aborted or StatusCode.Cancelled)
                {
                    Interlocked.Increment(ref upserts[2]); // the killed broker, or a conflict past the tries: refused, nothing written
                }

                await Task.Delay(20, CancellationToken.None);
            }
        })).ToList();

        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(20));
        var victim = cluster.Brokers[1];
        victim.Process.Kill();
        await victim.Process.WaitForExitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine($"broker {victim.HttpPort} SIGKILLed at {clock.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(TimeSpan.FromSeconds(10));
        await cluster.StartBrokerAsync(victim);
        output.WriteLine($"broker restarted at {clock.Elapsed.TotalSeconds:0.0} s");
        await Task.Delay(TimeSpan.FromSeconds(60) - clock.Elapsed);
        await storm.CancelAsync();
        await Task.WhenAll(stormers);

        var paused = await clients[0].PauseScheduleAsync(new PauseScheduleRequest { Queue = cluster.Queue, Name = "tick" });
        var last = paused.LastRun.ToDateTimeOffset();
        var slots = (long)(last - first).TotalSeconds + 1;
        output.WriteLine($"slots {first:HH:mm:ss.fff} .. {last:HH:mm:ss.fff}: {slots}; upserts same {upserts[0]}, changed {upserts[1]}, refused {upserts[2]}; version {paused.Version}");

        // The list of tasks per slot: each slot's derived id names a task, and the queue holds no other task.
        var missing = new List<DateTimeOffset>();
        for (var slot = first; slot <= last; slot += TimeSpan.FromSeconds(1))
        {
            var task = await cluster.Store.GetAsync(SlotTaskId.For(cluster.Queue, "tick", slot.ToUnixTimeMilliseconds()));
            if (task is null)
            {
                missing.Add(slot);
            }
            else
            {
                Assert.True(task.CreatedAt >= slot, $"the task of slot {slot:HH:mm:ss.fff} was created before it, at {task.CreatedAt:HH:mm:ss.fff}");
            }
        }

        Assert.Empty(missing);
        var stats = await clients[0].GetQueueStatsAsync(new GetQueueStatsRequest { Queue = cluster.Queue });
        Assert.Equal(slots, stats.Submitted);
        Assert.Equal(slots, stats.Ready);
        Assert.Equal(slots, paused.Fired);
        Assert.InRange(slots, 50, 62);
        Assert.True(upserts[1] > 100, $"only {upserts[1]} changed upserts went through");
    }

    [Fact]
    public async Task The_schedule_api_upserts_lists_triggers_pauses_resumes_deletes_audits_and_refuses_a_caller_without_admin()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        await cluster.StartBrokerAsync();
        var client = cluster.Client();

        var created = await client.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = Spec(cluster.Queue, "a") });
        Assert.True(created.Created);
        var again = await client.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = Spec(cluster.Queue, "a") });
        Assert.True(again.Unchanged);

        // The broker's scheduler fires a slot by itself.
        var fired = await Eventually.UntilAsync(
            () => client.GetScheduleAsync(new GetScheduleRequest { Queue = cluster.Queue, Name = "tick" }).ResponseAsync,
            s => s.Fired > 0,
            TimeSpan.FromSeconds(15),
            "the scheduler fires the first slot");
        Assert.Equal(Protocol.V1.TaskState.Ready, fired!.LastTaskState);
        Assert.Equal(SlotTaskId.For(cluster.Queue, "tick", fired.LastRun.ToDateTimeOffset().ToUnixTimeMilliseconds()).ToString(), fired.LastTaskId);

        var listed = await client.ListSchedulesAsync(new ListSchedulesRequest());
        Assert.Contains(listed.Schedules, s => s.Spec.Queue == cluster.Queue && s.Spec.Name == "tick" && s.Spec.Cron == EverySecond);

        var paused = await client.PauseScheduleAsync(new PauseScheduleRequest { Queue = cluster.Queue, Name = "tick" });
        Assert.True(paused.Paused);
        var triggered = await client.TriggerScheduleAsync(new TriggerScheduleRequest { Queue = cluster.Queue, Name = "tick" });
        Assert.NotNull(await cluster.Store.GetAsync(TaskId.Parse(triggered.TaskId)));
        var resumed = await client.ResumeScheduleAsync(new ResumeScheduleRequest { Queue = cluster.Queue, Name = "tick" });
        Assert.False(resumed.Paused);
        Assert.NotNull(resumed.NextRun);

        var worker = cluster.Client(key: cluster.Credentials.WorkerKey);
        var denied = await Assert.ThrowsAsync<RpcException>(async () => await worker.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = Spec(cluster.Queue, "x") }));
        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        var badSpec = Spec(cluster.Queue, "a");
        badSpec.Cron = "not cron";
        var bad = await Assert.ThrowsAsync<RpcException>(async () => await client.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = badSpec }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);

        await client.DeleteScheduleAsync(new DeleteScheduleRequest { Queue = cluster.Queue, Name = "tick" });
        var gone = await Assert.ThrowsAsync<RpcException>(async () => await client.GetScheduleAsync(new GetScheduleRequest { Queue = cluster.Queue, Name = "tick" }));
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);

        var audit = await client.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = cluster.Queue });
        var actions = audit.Entries.Select(e => e.Action).ToList();
        Assert.Superset(
            new HashSet<string>(["schedule.upsert", "schedule.pause", "schedule.trigger", "schedule.resume", "schedule.delete"]),
            actions.ToHashSet());
    }

    private static ScheduleSpec Spec(string queue, string payload) => new()
    {
        Queue = queue,
        Name = "tick",
        Cron = EverySecond,
        Template = new Protocol.V1.ScheduleTemplate { Type = "tick", Payload = Google.Protobuf.ByteString.CopyFromUtf8(payload) },
        CatchUp = ScheduleCatchUp.All,
        CatchUpMax = 100,
    };
}
