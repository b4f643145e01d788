using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using TaskQueue.Broker.Storage;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using StoreState = TaskQueue.Broker.Storage.TaskState;

namespace TaskQueue.Tests.Distributed;

/// <summary>Progress, Watch and fenced checkpoints across real broker and worker processes.</summary>
[Collection(DistributedCollection.Name)]
public sealed partial class ProgressCheckpointProcessTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Watch_streams_a_snapshot_then_every_state_change_and_progress_until_the_final_state()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var client = new TaskQueueClient(cluster.Channel(broker, cluster.AdminKey));
        var id = (await cluster.SubmitAsync([cluster.Task("count", "20:150")]))[0];
        using var timeout = new CancellationTokenSource(s_wait);
        var events = new List<TaskWatchEvent>();
        var watch = Task.Run(async () =>
        {
            await foreach (var watched in client.WatchAsync(id, timeout.Token))
            {
                lock (events)
                {
                    events.Add(watched);
                }
            }
        });
        // The snapshot first, while nobody runs the task: then a worker starts it.
        await Eventually.TrueAsync(() => { lock (events) { return events.Count > 0; } }, s_wait, "the watch's first event");
        cluster.StartWorker($"watched-{cluster.Queue}", concurrency: 1);

        await watch.WaitAsync(s_wait);

        Assert.Equal(TaskWatchEventKind.Snapshot, events[0].Kind);
        Assert.Equal(TaskQueue.Client.TaskState.Ready, events[0].Task.State);
        Assert.Contains(events, e => e.Kind == TaskWatchEventKind.StateChanged && e.Task.State == TaskQueue.Client.TaskState.Leased);
        var progress = events.Where(e => e.Kind == TaskWatchEventKind.Progress).Select(e => e.Task.ProgressPercent ?? -1).ToList();
        Assert.NotEmpty(progress);
        Assert.Equal(progress.Order(), progress);
        Assert.Equal((TaskWatchEventKind.StateChanged, TaskQueue.Client.TaskState.Completed), (events[^1].Kind, events[^1].Task.State));
        Assert.Single(events, e => e.Task.IsFinal);
        Assert.All(events, e => Assert.True(e.Task.Payload.IsEmpty && e.Task.Checkpoint.IsEmpty));
        var final = await client.GetAsync(id);
        Assert.Equal(100, final.ProgressPercent);
        Assert.Equal("20/20", final.ProgressMessage);
        Assert.Equal("10", Encoding.UTF8.GetString(final.Checkpoint.Span));
        // The watch is over: nothing of it is left in Redis.
        Assert.False(await cluster.Redis.Connection.GetDatabase().KeyExistsAsync(RedisKeys.Watchers(cluster.Queue)));
    }

    [Fact]
    public async Task A_killed_counting_worker_is_resumed_from_its_checkpoint_and_a_zombies_checkpoint_is_refused()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        var broker = await cluster.StartBrokerAsync();
        var first = cluster.StartWorker($"count-a-{cluster.Queue}", concurrency: 1);
        var id = (await cluster.SubmitAsync([cluster.Task("count", "100:100", maxAttempts: 3)]))[0];
        var taskId = TaskId.Parse(id);

        // SIGKILL at item ~55 (the stored progress lags the handler by at most the broker's coalescing window).
        TaskQueue.Broker.Storage.TaskSnapshot? running = null;
        await Eventually.TrueAsync(
            async () => (running = await cluster.Store.GetAsync(taskId)) is { ProgressPercent: >= 55 },
            s_wait,
            () => $"the first attempt reached item 55 (progress {running?.ProgressPercent}):\n{cluster.Diagnostics()}");
        var zombieToken = running!.LeaseToken!;
        first.Kill();
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the first worker exited");
        var executedByFirst = Items(first.RecentOutput, id, attempt: 1);
        Assert.InRange(executedByFirst, 55, 99);

        cluster.StartWorker($"count-b-{cluster.Queue}", concurrency: 1);
        await Eventually.TrueAsync(
            async () => await cluster.Store.GetAsync(taskId) is { State: StoreState.Leased, Attempt: 2 },
            s_wait,
            () => $"the second attempt started:\n{cluster.Diagnostics()}");

        // The killed attempt's lease moved on: its checkpoint is refused (then LeaseLost) and overwrites nothing.
        var (zombie, _) = await RawWorker.ConnectAsync(
            cluster.WorkerClient(broker, cluster.Credentials.WorkerKey), $"count-zombie-{cluster.Queue}", cluster.Queue, 1);
        await using (zombie)
        {
            await zombie.SendAsync(new WorkerMessage
            {
                Checkpoint = new TaskCheckpoint { TaskId = id, LeaseToken = zombieToken, State = ByteString.CopyFromUtf8("zombie"), Percent = 1, Sequence = 7 },
            });
            var saved = (await zombie.NextAsync(BrokerMessage.KindOneofCase.CheckpointSaved, TimeSpan.FromSeconds(20))).CheckpointSaved;
            var lost = (await zombie.NextAsync(BrokerMessage.KindOneofCase.LeaseLost, TimeSpan.FromSeconds(20))).LeaseLost;
            Assert.Equal((id, 7L, false), (saved.TaskId, saved.Sequence, saved.Accepted));
            Assert.Equal(id, lost.TaskId);
        }

        var final = (await cluster.WaitAllFinalAsync([id], s_wait))[0];
        var result = ResultLine().Match(Encoding.UTF8.GetString(final.Result.Span));
        Assert.True(result.Success, $"the result says what the second attempt did: {Encoding.UTF8.GetString(final.Result.Span)}");
        var counted = int.Parse(result.Groups[1].Value, CultureInfo.InvariantCulture);
        var resumedAt = int.Parse(result.Groups[2].Value, CultureInfo.InvariantCulture);

        Assert.Equal((StoreState.Completed, 2), (final.State, final.Attempt));
        Assert.InRange(resumedAt, 50, executedByFirst);
        Assert.Equal(100, resumedAt + counted);
        Assert.InRange(executedByFirst + counted, 100, 110);
        Assert.Equal("90", Encoding.UTF8.GetString(final.Checkpoint.Span));
    }

    [Fact]
    public async Task A_checkpoint_over_the_brokers_cap_fails_the_handlers_call_and_stores_nothing()
    {
        await using var cluster = await TaskQueueCluster.StartAsync(
            brokerSettings: new Dictionary<string, string> { ["TaskQueue__Store__MaxCheckpointBytes"] = "1" });
        await cluster.StartBrokerAsync();
        cluster.StartWorker($"count-cap-{cluster.Queue}", concurrency: 1);
        var id = (await cluster.SubmitAsync([cluster.Task("count", "20:10", maxAttempts: 1)]))[0];

        var final = (await cluster.WaitAllFinalAsync([id], s_wait))[0];

        // "10" is two bytes: the handler's CheckpointAsync threw, so its one attempt failed with the broker's reason.
        Assert.Equal(StoreState.DeadLettered, final.State);
        Assert.Contains("over the broker's limit of 1 (TaskQueue:Store:MaxCheckpointBytes)", final.LastError, StringComparison.Ordinal);
        Assert.True(final.Checkpoint.IsEmpty);
    }

    /// <summary>The last item the worker's ledger lines say the attempt finished.</summary>
    private static int Items(string output, string taskId, int attempt) =>
        output.Split('\n')
            .Select(line => ItemLine().Match(line))
            .Where(m => m.Success && m.Groups[1].Value == taskId && m.Groups[2].Value == attempt.ToString(CultureInfo.InvariantCulture))
            .Select(m => int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture))
            .DefaultIfEmpty(0)
            .Max();

    [GeneratedRegex(@"count (\S+) attempt (\d+) item (\d+)")]
    private static partial Regex ItemLine();

    [GeneratedRegex(@"^counted (\d+) items from (\d+)$")]
    private static partial Regex ResultLine();
}
