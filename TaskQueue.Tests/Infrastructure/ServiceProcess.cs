using System.Collections.Concurrent;
using System.Diagnostics;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>
/// A TaskQueue service (broker or worker) run as a real process from its build output, configured only
/// through environment variables. Tests crash it (SIGKILL), stop it (SIGTERM), freeze it (SIGSTOP).
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ServiceProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Remember(e.Data);
        process.ErrorDataReceived += (_, e) => Remember(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the process printed (for failure messages).</summary>
    public string RecentOutput => string.Join('\n', _output);

    public static ServiceProcess Start(string project, string name, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(BuildOutput(project))!,
        };
        info.ArgumentList.Add(BuildOutput(project));
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["Logging__Console__FormatterName"] = "simple";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{project} did not start.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { process.Kill(true); } catch (InvalidOperationException) { } };
        return new ServiceProcess(name, process);
    }

    public void Kill() => Signal(ProcessSignals.Kill);

    public void Terminate() => Signal(ProcessSignals.Terminate);

    public void Freeze() => Signal(ProcessSignals.Stop);

    public void Thaw() => Signal(ProcessSignals.Continue);

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

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Thaw();
            Kill();
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

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

        _output.Enqueue(line);
        while (_output.Count > 200 && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>The service's own build output, built in the same configuration as the tests.</summary>
    private static string BuildOutput(string project)
    {
        var testOutput = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(testOutput);
        var configuration = Path.GetFileName(Path.GetDirectoryName(testOutput)!);
        var root = new DirectoryInfo(testOutput);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "TaskQueue.sln")))
        {
            root = root.Parent;
        }

        var path = Path.Combine(root?.FullName ?? throw new InvalidOperationException("TaskQueue.sln not found above the test output."),
            project, "bin", configuration, framework, project + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"Build {project} first.", path);
    }
}
