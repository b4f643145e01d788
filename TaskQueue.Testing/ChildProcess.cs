using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace TaskQueue.Testing;

/// <summary>
/// A process a test or benchmark started (redis-server, a broker, a worker): its recent output for failure
/// messages, its CPU time and memory from /proc, signals to crash, stop, freeze and thaw it, and a kill on
/// dispose and when the starting process exits, so nothing is left behind.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    // USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every mainstream Linux build.
    private const double ClockTicksPerSecond = 100;
    private const int RememberedLines = 200;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly ConcurrentDictionary<string, int> _counted = new(StringComparer.Ordinal);

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += OnExit;
    }

    /// <summary>What the starter called it (in failure messages).</summary>
    public string Name { get; }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the process printed, stdout and stderr together.</summary>
    public string RecentOutput => string.Join('\n', _output);

    /// <summary>
    /// Counts the lines containing <paramref name="text"/> printed from now on, however many lines follow (the recent
    /// output keeps only the last few hundred); <see cref="LinesCounted"/> reads the count.
    /// </summary>
    public void CountLines(string text) => _counted.TryAdd(text, 0);

    /// <summary>How many lines containing <paramref name="text"/> were printed since <see cref="CountLines"/>.</summary>
    public int LinesCounted(string text) =>
        _counted.TryGetValue(text, out var count) ? count : throw new InvalidOperationException($"'{text}' is not counted: call CountLines first.");

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>, its output captured; <paramref name="environment"/> adds to or replaces inherited variables.</summary>
    public static ChildProcess Start(
        string name,
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }

        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return new ChildProcess(name, Process.Start(info) ?? throw new InvalidOperationException($"{name} did not start."));
    }

    /// <summary>
    /// A TaskQueue service (e.g. TaskQueue.Broker) run as <c>dotnet &lt;dll&gt;</c> from its own build output (the
    /// running build's configuration), in that folder, as Production with no telemetry export, configured
    /// only through <paramref name="environment"/>.
    /// </summary>
    public static ChildProcess StartService(string project, string name, IReadOnlyDictionary<string, string> environment)
    {
        var dll = BuildOutput.Dll(project);
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Logging__Console__FormatterName"] = "simple",
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "",
        };
        foreach (var (key, value) in environment)
        {
            settings[key] = value;
        }

        return Start(name, "dotnet", [dll], settings, Path.GetDirectoryName(dll));
    }

    /// <summary>User + system CPU the process has used so far (Linux /proc; zero elsewhere).</summary>
    public TimeSpan CpuTime()
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{Pid}/stat");
            // Fields after the command name (which may contain spaces) start after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / ClockTicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return TimeSpan.Zero;
        }
    }

    /// <summary>Resident set size in bytes (VmRSS), or zero when unknown.</summary>
    public long ResidentBytes()
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }

        return 0;
    }

    /// <summary>SIGTERM: asks the process to shut down.</summary>
    public void Terminate() => Signal(ProcessSignals.Terminate);

    /// <summary>SIGSTOP: holds the process still (its connections stay open, nothing is answered) until <see cref="Thaw"/>.</summary>
    public void Freeze() => Signal(ProcessSignals.Stop);

    /// <summary>SIGCONT: lets a frozen process go on.</summary>
    public void Thaw() => Signal(ProcessSignals.Continue);

    /// <summary>SIGKILL to the process and its children: a crash, not a shutdown. Returns at once.</summary>
    /// <remarks>
    /// A frozen process is killed frozen: SIGKILL needs no SIGCONT, and one would let it run for the moment before it dies
    /// (a frozen Redis answered every command waiting on it then, so nothing in flight met the crash).
    /// </remarks>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Waits until the process exits; false if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Blocks until the process exits; false if it is still running after <paramref name="timeout"/>.</summary>
    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>Kills the process (if still running) and waits up to 10 s for it to go.</summary>
    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnExit;
        if (!_process.HasExited)
        {
            Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private void OnExit(object? sender, EventArgs e) => Kill();

    private void Signal(int signal)
    {
        if (!_process.HasExited)
        {
            ProcessSignals.Send(_process.Id, signal);
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        foreach (var text in _counted.Keys)
        {
            if (line.Contains(text, StringComparison.Ordinal))
            {
                _counted.AddOrUpdate(text, 1, (_, count) => count + 1);
            }
        }

        _output.Enqueue(line);
        while (_output.Count > RememberedLines && _output.TryDequeue(out _))
        {
        }
    }
}
