using System.Text.Json;
using Grpc.Core;
using TaskQueue.Protocol;
using TaskQueue.Tests.Distributed;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Security;

/// <summary>
/// A credential taken back while a worker's stream is open: the broker's KeysFile rewritten without the key (or with
/// its scopes narrowed), or a JWT that expires. The stream ends at the worker's next heartbeat; other streams stay.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class RevocationTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(15);
    private readonly string _keysFile = Path.Combine(Path.GetTempPath(), $"tq-keys-{Guid.NewGuid():N}.json");
    private readonly string _key = ApiKeys.Create();

    public void Dispose() => File.Delete(_keysFile);

    [Fact]
    public async Task A_key_removed_from_the_keys_file_closes_its_workers_stream_within_a_heartbeat()
    {
        await WriteKeysAsync(("revocable", _key, "consume:*"));
        await using var cluster = await StartAsync();
        await using var revoked = await ConnectAsync(cluster, _key, "revoked");
        await using var kept = await ConnectAsync(cluster, cluster.Credentials.WorkerKey, "kept");

        await WriteKeysAsync();

        Assert.Equal(StatusCode.Unauthenticated, (await revoked.Closed.WaitAsync(s_wait)).StatusCode);
        Assert.False(kept.Closed.IsCompleted);
        Assert.Equal(StatusCode.Unauthenticated, await AuthorizationMatrixTests.ConnectAsync(cluster, cluster.Brokers[0], _key, false, cluster.Queue, "revoked"));
    }

    [Fact]
    public async Task A_key_that_lost_consume_for_the_workers_queues_closes_its_stream_with_permission_denied()
    {
        await WriteKeysAsync(("narrowed", _key, "consume:*"));
        await using var cluster = await StartAsync();
        await using var worker = await ConnectAsync(cluster, _key, "narrowed");

        await WriteKeysAsync(("narrowed", _key, "consume:some-other-queue"));

        Assert.Equal(StatusCode.PermissionDenied, (await worker.Closed.WaitAsync(s_wait)).StatusCode);
    }

    [Fact]
    public async Task A_workers_jwt_that_expires_closes_its_stream()
    {
        await WriteKeysAsync(("unused", _key, "consume:*"));
        var tokens = new TestTokens();
        await using var cluster = await StartAsync(tokens.BrokerSettings());
        var token = tokens.Create("worker-7", "consume:*", DateTime.UtcNow.AddSeconds(4));
        await using var worker = await ConnectAsync(cluster, token, "jwt-worker");

        Assert.Equal(StatusCode.Unauthenticated, (await worker.Closed.WaitAsync(s_wait)).StatusCode);
    }

    private async Task<TaskQueueCluster> StartAsync(Dictionary<string, string>? extra = null)
    {
        var settings = new Dictionary<string, string>(extra ?? []) { ["TaskQueue__Security__KeysFile"] = _keysFile };
        // Leases of 3 s: heartbeats every second.
        var cluster = await TaskQueueCluster.StartAsync(lease: TimeSpan.FromSeconds(3), brokerSettings: settings);
        await cluster.StartBrokerAsync();
        return cluster;
    }

    private static async Task<RawWorker> ConnectAsync(TaskQueueCluster cluster, string credential, string name)
    {
        var (worker, _) = await RawWorker.ConnectAsync(cluster.WorkerClient(key: credential), $"{name}-{cluster.Queue}", cluster.Queue, 1);
        worker.StartHeartbeats(TimeSpan.FromMilliseconds(500), () => []);
        return worker;
    }

    /// <summary>Rewrites the keys file (as an operator rotating keys would: write a new file, move it over the old one).</summary>
    private async Task WriteKeysAsync(params (string Name, string Key, string Scopes)[] keys)
    {
        var document = new
        {
            TaskQueue = new
            {
                Security = new
                {
                    ApiKeys = keys.ToDictionary(k => k.Name, k => new { Sha256 = ApiKeys.Hash(k.Key), Scopes = new[] { k.Scopes } }),
                },
            },
        };
        var temporary = _keysFile + ".new";
        await File.WriteAllTextAsync(temporary, JsonSerializer.Serialize(document));
        File.Move(temporary, _keysFile, overwrite: true);
    }
}
