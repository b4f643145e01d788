using StackExchange.Redis;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A real redis-server the tests start themselves (TaskQueue.Testing's <see cref="RedisServerProcess"/>),
/// with a connection to it: a free loopback port, a temporary data directory, killed when disposed (or when
/// the test process exits). One is shared by the whole test run (<see cref="Shared"/>); tests isolate
/// themselves by using their own queue names. Without persistence unless the extra arguments turn it on.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly Lazy<Task<RedisServer>> s_shared = new(() => StartAsync());

    private readonly RedisServerProcess _server;

    private RedisServer(RedisServerProcess server, ConnectionMultiplexer connection)
    {
        _server = server;
        Connection = connection;
    }

    public static Task<RedisServer> Shared => s_shared.Value;

    public int Port => _server.Port;

    public string ConnectionString => _server.Endpoint;

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

    /// <summary>Stops the server with SIGSTOP: connections stay open and commands wait unanswered until <see cref="Thaw"/>.</summary>
    public void Freeze() => _server.Freeze();

    public void Thaw() => _server.Thaw();

    /// <summary>Kills the server with SIGKILL (a crash, not a shutdown).</summary>
    public void Kill() => _server.Kill();

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        await _server.DisposeAsync();
    }

    public static int FreePort() => LoopbackPort.Free();
}
