using StackExchange.Redis;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>What a store test needs of its Redis, a single server (<see cref="RedisServer"/>) or a cluster (<see cref="RedisCluster"/>).</summary>
public interface ITestRedis
{
    /// <summary>ConnectionStrings:redis for it.</summary>
    string ConnectionString { get; }

    /// <summary>A connection with admin commands allowed.</summary>
    ConnectionMultiplexer Connection { get; }

    /// <summary>The server that holds <paramref name="key"/> (the only one on a single Redis; its slot's primary in a cluster).</summary>
    IServer ServerOf(RedisKey key);
}
