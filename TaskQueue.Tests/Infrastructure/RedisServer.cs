using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A real redis-server the tests start themselves: a free loopback port, a temporary data directory,
/// killed when disposed (or when the test process exits). One is shared by the whole test run
/// (<see cref="Shared"/>); tests isolate themselves by using their own queue names.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly Lazy<Task<RedisServer>> s_shared = new(() => StartAsync());

    private readonly Process _process;
    private readonly string _directory;

    private RedisServer(Process process, int port, string directory, ConnectionMultiplexer connection)
    {
        _process = process;
        Port = port;
        _directory = directory;
        Connection = connection;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Kill();
    }

    public static Task<RedisServer> Shared => s_shared.Value;

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public ConnectionMultiplexer Connection { get; }

    public string DataDirectory => _directory;

    /// <summary>Starts a redis-server; <paramref name="extraArgs"/> add to the defaults (e.g. AOF settings).</summary>
    public static async Task<RedisServer> StartAsync(string? directory = null, int? port = null, params string[] extraArgs)
    {
        var executable = FindExecutable()
            ?? throw new InvalidOperationException(
                "redis-server was not found on PATH. Install it: `sudo apt-get install redis-server` (Debian/Ubuntu) " +
                "or `brew install redis` (macOS); .ci/run installs it by itself.");
        var dir = directory ?? Directory.CreateTempSubdirectory("taskqueue-redis-").FullName;
        var chosenPort = port ?? FreePort();
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", chosenPort.ToString(), "--bind", "127.0.0.1", "--dir", dir, "--save", "",
                     "--appendonly", "no", "--maxmemory-policy", "noeviction", "--daemonize", "no",
                     "--hash-max-listpack-value", "1024",
                 }.Concat(extraArgs))
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                var connection = await ConnectionMultiplexer.ConnectAsync(
                    $"127.0.0.1:{chosenPort},abortConnect=true,connectTimeout=1000,allowAdmin=true");
                await connection.GetDatabase().PingAsync();
                return new RedisServer(process, chosenPort, dir, connection);
            }
            catch (RedisConnectionException) when (DateTime.UtcNow < deadline && !process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Stops the server with SIGSTOP: connections stay open and commands wait unanswered until <see cref="Thaw"/>.</summary>
    public void Freeze() => ProcessSignals.Send(_process.Id, ProcessSignals.Stop);

    public void Thaw() => ProcessSignals.Send(_process.Id, ProcessSignals.Continue);

    /// <summary>Kills the server with SIGKILL (a crash, not a shutdown).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                Thaw();
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync();
        Kill();
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string? FindExecutable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Append("/usr/bin").Append("/usr/local/bin").Append("/usr/sbin")
        .Select(dir => Path.Combine(dir, "redis-server"))
        .FirstOrDefault(File.Exists);
}
