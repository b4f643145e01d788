using StackExchange.Redis;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A real redis-server the tests start themselves (TaskQueue.Testing's <see cref="RedisServerProcess"/>),
/// with a connection to it: a free loopback port, a temporary data directory, killed when disposed (or when
/// the test process exits). One is shared by the whole test run (<see cref="Shared"/>); tests isolate
/// themselves by using their own queue names. Without persistence unless the extra arguments turn it on.
/// Or a Sentinel topology (<see cref="StartSentinelAsync"/>): then the connection goes through the sentinels and
/// follows a failover, and <see cref="Port"/>, <see cref="DataDirectory"/> and the signals are the first primary's.
/// </summary>
public sealed class RedisServer : ITestRedis, IAsyncDisposable
{
    private static readonly Lazy<Task<RedisServer>> s_shared = new(() => StartAsync());

    private readonly RedisServerProcess _server;

    private RedisServer(RedisServerProcess server, ConnectionMultiplexer connection, RedisSentinelProcess? sentinel = null)
    {
        _server = server;
        Connection = connection;
        Sentinel = sentinel;
    }

    public static Task<RedisServer> Shared => s_shared.Value;

    /// <summary>The Sentinel topology behind the connection, or null for a single server.</summary>
    public RedisSentinelProcess? Sentinel { get; }

    public int Port => _server.Port;

    /// <summary>ConnectionStrings:redis for a broker: the server's host:port, or the sentinels' with <c>serviceName=</c>.</summary>
    public string ConnectionString => Sentinel?.ConnectionString ?? _server.Endpoint;

    public ConnectionMultiplexer Connection { get; }

    public string DataDirectory => _server.DataDirectory;

    /// <summary>Starts a redis-server without persistence; <paramref name="extraArgs"/> override that (e.g. AOF settings).</summary>
    public static async Task<RedisServer> StartAsync(string? directory = null, int? port = null, params string[] extraArgs)
    {
        var server = await RedisServerProcess.StartAsync(directory, port, [.. RedisServerSettings.NoPersistence, .. extraArgs]);
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(
                $"{server.Endpoint},abortConnect=true,connectTimeout=1000,allowAdmin=true");
            await connection.GetDatabase().PingAsync();
            return new RedisServer(server, connection);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A primary, a replica and three sentinels (<see cref="RedisSentinelProcess"/>), without persistence; the connection goes through the sentinels.</summary>
    public static async Task<RedisServer> StartSentinelAsync()
    {
        var topology = await RedisSentinelProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence);
        try
        {
            var connection = await ConnectionMultiplexer.ConnectAsync(
                $"{topology.ConnectionString},abortConnect=true,connectTimeout=1000,allowAdmin=true");
            await connection.GetDatabase().PingAsync();
            return new RedisServer(topology.Nodes[0], connection, topology);
        }
        catch
        {
            await topology.DisposeAsync();
            throw;
        }
    }

    /// <summary>The server the connection writes to now (after a failover, the promoted replica).</summary>
    public IServer Primary() =>
        Connection.GetServers().FirstOrDefault(s => s.IsConnected && !s.IsReplica)
        ?? throw new InvalidOperationException("The connection knows no connected primary.");

    /// <summary>Stops the server with SIGSTOP: connections stay open and commands wait unanswered until <see cref="Thaw"/>.</summary>
    public void Freeze() => _server.Freeze();

    public void Thaw() => _server.Thaw();

    /// <summary>Kills the server with SIGKILL (a crash, not a shutdown).</summary>
    public void Kill() => _server.Kill();

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        if (Sentinel is not null)
        {
            await Sentinel.DisposeAsync();
        }
        else
        {
            await _server.DisposeAsync();
        }
    }

    /// <summary>The one server (through Sentinel: the primary now).</summary>
    public IServer ServerOf(RedisKey key) => Sentinel is null ? Connection.GetServer(Connection.GetEndPoints()[0]) : Primary();

    public static int FreePort() => LoopbackPort.Free();
}
