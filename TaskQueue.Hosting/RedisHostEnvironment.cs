using System.ComponentModel;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.Hosting;

/// <summary>What this machine offers to run Redis with: a working container runtime, a redis-server binary.</summary>
internal static class RedisHostEnvironment
{
    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(10);

    private static readonly string[] s_extraSearchDirectories =
        ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/opt/homebrew/bin", "/opt/local/bin"];

    /// <summary>
    /// The container runtime Aspire would use (ASPIRE_CONTAINER_RUNTIME, else docker, else podman) if it answers
    /// <c>container ls</c> — the same probe Aspire makes. An installed CLI whose daemon is down does not count.
    /// </summary>
    public static string? FindRunningContainerRuntime(IConfiguration configuration)
    {
        var configured = configuration["ASPIRE_CONTAINER_RUNTIME"];
        string[] candidates = string.IsNullOrWhiteSpace(configured) ? ["docker", "podman"] : [configured];
        return candidates.FirstOrDefault(Answers);
    }

    /// <summary>The redis-server to run: the configured path, else the first on PATH (or in the usual places).</summary>
    public static string? FindRedisServer(string? configuredPath)
    {
        if (!string.IsNullOrWhiteSpace(configuredPath))
        {
            return File.Exists(configuredPath) ? Path.GetFullPath(configuredPath) : null;
        }

        var name = OperatingSystem.IsWindows() ? "redis-server.exe" : "redis-server";
        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(s_extraSearchDirectories)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
    }

    private static bool Answers(string runtime)
    {
        var info = new ProcessStartInfo(runtime)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "container", "ls", "-n", "1" })
        {
            info.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(info);
            if (process is null)
            {
                return false;
            }

            // Drain the pipes so a chatty CLI cannot block on a full buffer.
            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(s_probeTimeout))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (Win32Exception)
        {
            return false; // not installed
        }
    }
}
