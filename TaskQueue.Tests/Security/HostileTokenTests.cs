using Google.Protobuf;
using Grpc.Core;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Security;

/// <summary>
/// The bad-input storm's credentials: oversized and malformed tokens each get UNAUTHENTICATED, the broker's memory
/// stays flat (RSS from /proc), and a normal task completes afterwards.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class HostileTokenTests(ITestOutputHelper output)
{
    private const int Rounds = 300;
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Oversized_and_malformed_tokens_are_unauthenticated_memory_stays_flat_and_a_normal_task_completes_afterwards()
    {
        var tokens = new TestTokens();
        await using var cluster = await TaskQueueCluster.StartAsync(brokerSettings: tokens.BrokerSettings());
        var broker = await cluster.StartBrokerAsync();
        var anonymous = cluster.Client(broker, anonymous: true);
        var hostile = new (string What, string Header)[]
        {
            ("a 100 KB key", "Bearer " + new string('k', 100 * 1024)),
            ("a 100 KB JWT-shaped token", "Bearer " + new string('h', 50 * 1024) + "." + new string('p', 50 * 1024) + ".s"),
            ("a JWT-shaped token of garbage", "Bearer a.b.c"),
            ("a JWT with a forged signature", "Bearer " + tokens.Forged("mallory", "admin:*")),
            ("an empty bearer", "Bearer "),
            ("another scheme", "Basic dXNlcjpwYXNz"),
            ("a bare key without scheme", Protocol.ApiKeys.Create()),
        };

        async Task<List<string>> StormAsync(int rounds)
        {
            var wrong = new List<string>();
            for (var round = 0; round < rounds; round++)
            {
                foreach (var (what, header) in hostile)
                {
                    try
                    {
                        await anonymous.GetQueueStatsAsync(
                            new GetQueueStatsRequest { Queue = cluster.Queue }, new Metadata { { "authorization", header } }, DateTime.UtcNow + s_wait);
                        wrong.Add($"{what}: OK");
                    }
                    catch (RpcException ex) when (ex.StatusCode != StatusCode.Unauthenticated)
                    {
                        wrong.Add($"{what}: {ex.StatusCode} {ex.Status.Detail}");
                    }
                    catch (RpcException)
                    {
                    }
                }
            }

            return wrong;
        }

        // A first round warms the broker up (JIT, pools, caches), then the storm proper is measured.
        Assert.Empty(await StormAsync(20));
        var before = broker.Process.ResidentBytes();
        var wrong = await StormAsync(Rounds);
        var after = broker.Process.ResidentBytes();
        output.WriteLine($"{Rounds * hostile.Length} hostile calls; broker RSS {before / 1048576.0:F1} MiB before, {after / 1048576.0:F1} MiB after");

        Assert.Empty(wrong.Distinct());
        // Flat: the calls carried ~60 MB of tokens; keeping any of them would show. Allow for the GC's own growth.
        Assert.True(after - before < 32 * 1024 * 1024, $"broker RSS grew by {(after - before) / 1048576.0:F1} MiB");
        var (worker, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(broker, cluster.Credentials.WorkerKey), $"after-{cluster.Queue}", cluster.Queue, 1);
        await using var afterwards = worker;
        var id = (await cluster.Client(broker).SubmitAsync(new SubmitRequest { Task = cluster.Task("echo", "after the storm") })).TaskId;
        var assignment = (await worker.NextAsync(BrokerMessage.KindOneofCase.Assignment, s_wait)).Assignment;
        await worker.SendAsync(new WorkerMessage
        {
            Completed = new TaskCompleted { TaskId = assignment.TaskId, LeaseToken = assignment.LeaseToken, Result = ByteString.CopyFromUtf8("done") },
        });
        var done = await cluster.WaitAllFinalAsync([id], s_wait);
        Assert.Equal(Broker.Storage.TaskState.Completed, done[0].State);
    }
}
