using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// Turns a compose service's environment into one for a plain process on this machine: every
/// "service:port" the compose network resolves (and every wildcard bind address) becomes a loopback
/// address, nothing else changes.
/// </summary>
internal sealed partial class LoopbackAddresses
{
    private readonly Dictionary<string, string> _map = new(StringComparer.Ordinal);

    /// <summary>Maps "host:port" (a compose service name, or a bind address such as "+") to 127.0.0.1:<paramref name="port"/>.</summary>
    public LoopbackAddresses Map(string host, int containerPort, int port)
    {
        _map[$"{host}:{containerPort}"] = $"127.0.0.1:{port}";
        return this;
    }

    public LoopbackAddresses With(LoopbackAddresses other)
    {
        var combined = new LoopbackAddresses();
        foreach (var (key, value) in _map.Concat(other._map))
        {
            combined._map[key] = value;
        }

        return combined;
    }

    public string Rewrite(string value) =>
        HostPortPattern().Replace(value, match => _map.TryGetValue(match.Value, out var loopback) ? loopback : match.Value);

    public Dictionary<string, string> Rewrite(IReadOnlyDictionary<string, string> environment, IEnumerable<string> composeServices)
    {
        var rewritten = environment.ToDictionary(pair => pair.Key, pair => Rewrite(pair.Value), StringComparer.Ordinal);
        foreach (var (key, value) in rewritten)
        {
            foreach (var service in composeServices)
            {
                Assert.False(value.Contains(service + ":", StringComparison.Ordinal), $"{key}={value} still names the compose service '{service}'");
            }
        }

        return rewritten;
    }

    [GeneratedRegex(@"(?<=^|[/@,=])(?:[A-Za-z0-9_.-]+|\+|\*|\[::\]):\d+")]
    private static partial Regex HostPortPattern();
}

/// <summary>
/// Stands in for the dashboard's OTLP endpoint: a loopback listener that counts the connections an
/// exporter opens (and closes them), proving the service sends its telemetry where it was told.
/// </summary>
internal sealed class OtlpSink : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private int _connections;

    public OtlpSink()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }
}

/// <summary>A command-line run of a TaskQueue executable (the client's `demo`), configured only by environment variables.</summary>
internal static class CommandProcess
{
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string project, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment, TimeSpan timeout)
    {
        var dll = BuildOutput.Dll(project);
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var output = new StringBuilder();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{project} did not start.");
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{project} {string.Join(' ', args)} did not finish within {timeout}:\n{Text(output)}");
        }

        process.WaitForExit();
        return (process.ExitCode, Text(output));
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is not null)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }
}
