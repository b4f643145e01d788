using System.Collections.Concurrent;
using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using Duration = Google.Protobuf.WellKnownTypes.Duration;

namespace TaskQueue.Tests.Distributed;

/// <summary>Unique and debounce keys under concurrent submitters on two brokers: atomic in the enqueue script.</summary>
[Collection(DistributedCollection.Name)]
public sealed class UniqueAndDebounceProcessTests
{
    private const int Submitters = 16;
    private const int Keys = 5;

    [Fact]
    public async Task Concurrent_submitters_on_two_brokers_get_one_task_per_unique_key_and_one_per_debounced_burst_with_the_last_payload()
    {
        await using var cluster = await TaskQueueCluster.StartAsync();
        TaskService.TaskServiceClient[] clients = [cluster.Client(await cluster.StartBrokerAsync()), cluster.Client(await cluster.StartBrokerAsync())];

        // Unique: no worker yet, so every task stays waiting through the burst. (A CI run once saw one submit end
        // UNKNOWN, an exception the broker does not map: its output says which.)
        List<(TaskSpec Spec, SubmitResponse Response)> unique;
        try
        {
            unique = await BurstAsync(clients, 10, (s, j) =>
            {
                var spec = cluster.Task("echo", $"u{s}.{j}");
                spec.UniqueKey = "k" + ((s + j) % Keys);
                return spec;
            });
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unknown)
        {
            throw new Xunit.Sdk.XunitException($"a submit ended {ex.Status}\n{cluster.Diagnostics()}");
        }

        foreach (var group in unique.GroupBy(r => r.Spec.UniqueKey))
        {
            Assert.Single(group.Select(r => r.Response.TaskId).Distinct());
            Assert.Equal(1, group.Count(r => r.Response.Outcome == SubmitOutcome.Created));
            Assert.All(group.Where(r => r.Response.Outcome != SubmitOutcome.Created), r =>
                Assert.Equal((SubmitOutcome.UniqueExisting, true), (r.Response.Outcome, r.Response.Duplicate)));
        }

        Assert.Equal(Keys, (await cluster.Store.GetCountsAsync(cluster.Queue)).Submitted);

        // Once they are final their keys are free: the same keys make new tasks.
        var worker = $"unique-{cluster.Queue}";
        cluster.StartWorker(worker, concurrency: 4);
        await cluster.WaitForWorkersAsync(worker);
        var firstRound = unique.Select(r => r.Response.TaskId).Distinct().ToList();
        Assert.All(await cluster.WaitAllFinalAsync(firstRound, TimeSpan.FromSeconds(60)), t => Assert.Equal(Broker.Storage.TaskState.Completed, t.State));
        var again = await clients[1].SubmitAsync(new SubmitRequest { Task = WithUnique(cluster.Task("echo", "again"), "k0") });
        Assert.Equal(SubmitOutcome.Created, again.Outcome);
        Assert.DoesNotContain(again.TaskId, firstRound);

        // Debounce: a burst from both brokers folds into one waiting task; the last submit's payload is the one that runs.
        var window = Duration.FromTimeSpan(TimeSpan.FromSeconds(3));
        var burst = await BurstAsync(clients, 5, (s, j) =>
        {
            var spec = cluster.Task("echo", $"d{s}.{j}");
            spec.DebounceKey = "burst";
            spec.DebounceWindow = window;
            return spec;
        });
        var last = cluster.Task("echo", "the last payload");
        last.DebounceKey = "burst";
        last.DebounceWindow = window;
        var lastResponse = await clients[0].SubmitAsync(new SubmitRequest { Task = last });

        var id = Assert.Single(burst.Select(r => r.Response.TaskId).Distinct());
        Assert.Equal(1, burst.Count(r => r.Response.Outcome == SubmitOutcome.Created));
        Assert.Equal(burst.Count - 1, burst.Count(r => r.Response.Outcome == SubmitOutcome.Debounced && r.Response.Duplicate));
        Assert.Equal((id, SubmitOutcome.Debounced), (lastResponse.TaskId, lastResponse.Outcome));
        var done = Assert.Single(await cluster.WaitAllFinalAsync([id], TimeSpan.FromSeconds(60)));
        Assert.Equal((Broker.Storage.TaskState.Completed, 1, "the last payload"), (done.State, done.Attempt, System.Text.Encoding.UTF8.GetString(done.Result.Span)));
        await Eventually.TrueAsync(
            async () => (await cluster.Store.GetCountsAsync(cluster.Queue)) is { Ready: 0, Scheduled: 0, Leased: 0 },
            TimeSpan.FromSeconds(30),
            "every task ran");
        var counts = await cluster.Store.GetCountsAsync(cluster.Queue);
        Assert.Equal((Keys + 2L, Keys + 2L), (counts.Submitted, counts.Completed));
    }

    private static TaskSpec WithUnique(TaskSpec spec, string key)
    {
        spec.UniqueKey = key;
        return spec;
    }

    /// <summary><see cref="Submitters"/> concurrent submitters, alternating between the brokers, each submitting <paramref name="each"/> in turn.</summary>
    private static async Task<List<(TaskSpec Spec, SubmitResponse Response)>> BurstAsync(
        TaskService.TaskServiceClient[] clients, int each, Func<int, int, TaskSpec> spec)
    {
        var results = new ConcurrentBag<(TaskSpec, SubmitResponse)>();
        using var start = new SemaphoreSlim(0, Submitters);
        var submitters = Enumerable.Range(0, Submitters).Select(s => Task.Run(async () =>
        {
            await start.WaitAsync();
            for (var j = 0; j < each; j++)
            {
                var task = spec(s, j);
                results.Add((task, await clients[s % clients.Length].SubmitAsync(new SubmitRequest { Task = task }, deadline: DateTime.UtcNow.AddSeconds(30))));
            }
        })).ToList();
        start.Release(Submitters);
        await Task.WhenAll(submitters);
        return [.. results];
    }
}
