using StackExchange.Redis;
using TaskQueue.Testing;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster the tests start themselves (TaskQueue.Testing's <see cref="RedisClusterProcess"/>: 3 primaries on
/// free loopback ports), with a connection to it, killed when disposed. One is shared by the whole test run
/// (<see cref="Shared"/>); tests isolate themselves by their own queue names, which fall on every shard. Without
/// persistence, as the shared <see cref="RedisServer"/>.
/// </summary>
public sealed class RedisCluster : ITestRedis, IAsyncDisposable
{
    private static readonly Lazy<Task<RedisCluster>> s_shared = new(() => StartAsync());

    private RedisCluster(RedisClusterProcess cluster, ConnectionMultiplexer connection)
    {
        Process = cluster;
        Connection = connection;
    }

    public static Task<RedisCluster> Shared => s_shared.Value;

    /// <summary>The nodes (to move a slot, kill a primary).</summary>
    public RedisClusterProcess Process { get; }

    public string ConnectionString => Process.ConnectionString;

    public ConnectionMultiplexer Connection { get; }

    /// <summary>Starts a cluster of <paramref name="primaries"/> without persistence and connects to it.</summary>
    public static async Task<RedisCluster> StartAsync(int primaries = 3)
    {
        var cluster = await RedisClusterProcess.StartAsync(primaries, extraArguments: RedisServerSettings.NoPersistence);
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(
                $"{cluster.ConnectionString},abortConnect=true,connectTimeout=2000,allowAdmin=true");
            await connection.GetDatabase().PingAsync();
            return new RedisCluster(cluster, connection);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public IServer ServerOf(RedisKey key) => Connection.GetServer(key);

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Process.DisposeAsync();
    }
}
