using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using TaskQueue.Tests.Deployment;

namespace TaskQueue.Tests.Packaging;

/// <summary>Tests that pack TaskQueue and build on the packages: one at a time (each is a build), apart from the rest.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection : ICollectionFixture<PackedFeed>
{
    public const string Name = "Packaging";
}

/// <summary>
/// TaskQueue's packages, packed once for the collection (<c>dotnet pack -c Release</c>) into a folder feed under a
/// temporary directory, with a version no earlier run used — so no NuGet cache can serve an older build of it.
/// </summary>
public sealed class PackedFeed : IAsyncLifetime
{
    /// <summary>Every project that makes a package: the libraries a team references, the integration, the CLI tool.</summary>
    public static readonly string[] PackageIds = ["TaskQueue.Client", "TaskQueue.Worker", "TaskQueue.Hosting", "TaskQueue.Cli"];

    private static readonly TimeSpan s_packTimeout = TimeSpan.FromMinutes(6);

    /// <summary>The temporary directory everything of this run lives under (deleted at the end).</summary>
    public string Root { get; } = Directory.CreateTempSubdirectory("taskqueue-packaging-").FullName;

    /// <summary>The folder feed the packages are in.</summary>
    public string Feed => Path.Combine(Root, "packages");

    /// <summary>This run's package version, e.g. 0.1.0-test.20261201213000.</summary>
    public string Version { get; } = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";

    /// <summary>The dotnet pack output, for failure messages.</summary>
    public string PackLog { get; private set; } = "";

    public async Task InitializeAsync()
    {
        // One build graph for every packable project: a throwaway solution listing those that exist, and the broker
        // (which the hosting package carries), so that it too builds in Release.
        var solution = new StringBuilder("<Solution>\n");
        foreach (var id in PackageIds.Append("TaskQueue.Broker"))
        {
            var project = Path.Combine(ComposeFile.RepositoryRoot, id, $"{id}.csproj");
            if (File.Exists(project))
            {
                solution.Append(CultureInfo.InvariantCulture, $"  <Project Path=\"{project}\" />\n");
            }
        }

        var solutionPath = Path.Combine(Root, "pack.slnx");
        await File.WriteAllTextAsync(solutionPath, solution.Append("</Solution>\n").ToString());
        var (exitCode, output) = await Dotnet.RunAsync(
            Root, s_packTimeout, null, "pack", solutionPath, "-c", "Release", "-o", Feed, $"-p:Version={Version}", "-nologo");
        PackLog = output;
        Assert.True(exitCode == 0, $"dotnet pack exited {exitCode}:\n{output}");
    }

    /// <summary>The .nupkg of a package of this run; fails, saying so, when that package was not made.</summary>
    public string Package(string id)
    {
        var path = Path.Combine(Feed, $"{id}.{Version}.nupkg");
        Assert.True(File.Exists(path), $"{id} {Version} was not packed (is IsPackable=true set in {id}.csproj?). In {Feed}: " +
            string.Join(", ", Directory.Exists(Feed) ? Directory.GetFiles(Feed).Select(Path.GetFileName) : []));
        return path;
    }

    /// <summary>A package's .nuspec, parsed.</summary>
    public XDocument Nuspec(string id)
    {
        using var package = ZipFile.OpenRead(Package(id));
        var entry = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/', StringComparison.Ordinal));
        using var stream = entry.Open();
        return XDocument.Load(stream);
    }

    /// <summary>The paths of every file in a package.</summary>
    public IReadOnlyList<string> Files(string id)
    {
        using var package = ZipFile.OpenRead(Package(id));
        return [.. package.Entries.Select(e => e.FullName)];
    }

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return Task.CompletedTask;
    }
}

/// <summary>Runs the dotnet CLI and collects its output, within a bound.</summary>
internal static class Dotnet
{
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // The test host's own MSBuild settings must not leak into a separate build.
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "VSTEST_HOST_DEBUG" })
        {
            info.Environment.Remove(name);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        var lockObject = new object();
        process.OutputDataReceived += (_, e) => { lock (lockObject) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (lockObject) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (lockObject)
            {
                return (-1, $"dotnet {string.Join(' ', args)} did not finish within {timeout}:\n{output}");
            }
        }

        process.WaitForExit(); // flush the output events
        lock (lockObject)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
