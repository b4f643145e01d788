namespace TaskQueue.Testing;

/// <summary>
/// A private redis-server: a free loopback port (or the one given), a data directory (a new temporary one,
/// or the one given), the <see cref="RedisServerSettings.Product"/> settings plus any extra arguments; ready
/// once it answers PING. Disposing kills it and deletes its data directory. Tests crash, freeze and thaw it.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    /// <summary>Where redis-server is looked for besides PATH.</summary>
    private static readonly string[] s_extraSearchDirectories = ["/usr/bin", "/usr/local/bin", "/usr/sbin"];

    private readonly ChildProcess _process;

    private RedisServerProcess(ChildProcess process, int port, string dataDirectory, string? password)
    {
        _process = process;
        Port = port;
        DataDirectory = dataDirectory;
        Password = password;
    }

    /// <summary>The port it listens on, on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>host:port, as ConnectionStrings:redis takes it.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>The password it requires (<c>--requirepass</c>), or null when it requires none.</summary>
    public string? Password { get; }

    /// <summary>ConnectionStrings:redis for it: host:port, plus <c>password=</c> when it requires one.</summary>
    public string ConnectionString => Password is null ? Endpoint : $"{Endpoint},password={Password}";

    /// <summary>Its --dir: the AOF lives here.</summary>
    public string DataDirectory { get; }

    /// <summary>The redis-server process (CPU time, memory, signals).</summary>
    public ChildProcess Process => _process;

    /// <summary>
    /// Starts a server and waits (at most <paramref name="startTimeout"/>, default 20 s) until it answers PING.
    /// <paramref name="extraArguments"/> come after the product settings and so override them
    /// (e.g. <see cref="RedisServerSettings.NoPersistence"/>, or <c>--appendfsync always</c>). With a
    /// <paramref name="password"/> it requires that password of every client (<see cref="RedisServerSettings.RequirePassword"/>).
    /// </summary>
    public static async Task<RedisServerProcess> StartAsync(
        string? dataDirectory = null,
        int? port = null,
        IEnumerable<string>? extraArguments = null,
        TimeSpan? startTimeout = null,
        string? password = null,
        CancellationToken cancellationToken = default)
    {
        var executable = FindExecutable()
            ?? throw new InvalidOperationException(
                "redis-server was not found on PATH. Install it: `sudo apt-get install redis-server` (Debian/Ubuntu) " +
                "or `brew install redis` (macOS).");
        var directory = dataDirectory ?? Directory.CreateTempSubdirectory("taskqueue-redis-").FullName;
        var chosenPort = port ?? LoopbackPort.Free();
        var process = ChildProcess.Start("redis-server", executable, RedisServerSettings.PrivateServer(
            chosenPort, directory, [.. password is null ? [] : RedisServerSettings.RequirePassword(password), .. extraArguments ?? []]));
        var server = new RedisServerProcess(process, chosenPort, directory, password);
        try
        {
            var deadline = DateTime.UtcNow + (startTimeout ?? TimeSpan.FromSeconds(20));
            while (!await server.AnswersPingAsync(cancellationToken))
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException($"redis-server exited with {process.ExitCode}:\n{process.RecentOutput}");
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"redis-server did not answer PING on {server.Endpoint} in time:\n{process.RecentOutput}");
                }

                await Task.Delay(50, cancellationToken);
            }

            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>The redis-server on PATH (or in the usual places), or null when there is none.</summary>
    public static string? FindExecutable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Concat(s_extraSearchDirectories)
        .Select(directory => Path.Combine(directory, "redis-server"))
        .FirstOrDefault(File.Exists);

    /// <summary>True when a PING on a new connection (authenticated with <see cref="Password"/>, if any) gets PONG.</summary>
    public async Task<bool> AnswersPingAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(1));
            await using var probe = await ConnectAsync(timeout.Token);
            return await probe.CallAsync(timeout.Token, "PING") is "PONG";
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException
                                       || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
                                       || (ex is InvalidOperationException && ex.Message.Contains("LOADING", StringComparison.Ordinal)))
        {
            // LOADING: a restarted server still reads its append-only file; it answers once that is done.
            return false;
        }
    }

    /// <summary>A new RESP connection to it, authenticated with <see cref="Password"/> when it requires one.</summary>
    public async Task<RespConnection> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var connection = await RespConnection.ConnectAsync(Endpoint, cancellationToken);
        try
        {
            if (Password is not null)
            {
                await connection.CallAsync(cancellationToken, "AUTH", Password);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGSTOP: connections stay open and commands wait unanswered until <see cref="Thaw"/>.</summary>
    public void Freeze() => _process.Freeze();

    /// <summary>SIGCONT.</summary>
    public void Thaw() => _process.Thaw();

    /// <summary>SIGKILL (a crash, not a shutdown); waits up to 5 s until it is gone, so its port is free again.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit(TimeSpan.FromSeconds(5));
    }

    /// <summary>Kills the server and deletes its data directory.</summary>
    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
