using TaskQueue.Tests.Deployment;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Packaging;

/// <summary>
/// The acceptance test of TaskQueue as a product: a fictional team's Aspire app (Packaging/Sample: an AppHost, an
/// API, a worker service with its own typed "resize-image" handler, and the team's own Aspire.Hosting.Testing test)
/// built on nothing of ours but the packages just packed, and TaskQueue's CLI installed as a dotnet tool from the
/// same feed. The team's test starts its AppHost, queues a resize through its API, reads the typed result back, and
/// runs <c>taskqueue stats --json</c> against the running broker.
/// </summary>
[Collection(PackagingCollection.Name)]
public sealed class ConsumerTests(PackedFeed feed, ITestOutputHelper output)
{
    private static readonly TimeSpan s_toolTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan s_consumerTimeout = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task A_teams_app_built_only_on_the_packages_resizes_an_image_and_the_cli_tool_reads_the_queue()
    {
        foreach (var id in PackedFeed.PackageIds)
        {
            feed.Package(id); // all four, or say which is missing
        }

        // The team's solution, copied where nothing of this repository (Directory.Build.props, ...) applies.
        var solution = Path.Combine(feed.Root, "ImageShop");
        Copy(Path.Combine(ComposeFile.RepositoryRoot, "TaskQueue.Tests", "Packaging", "Sample"), solution);
        Copy(feed.Feed, Path.Combine(solution, "packages")); // where its nuget.config looks

        // Its own package folder, so this run's packages are the only TaskQueue ones it can see; public packages come
        // from this machine's cache (read-only fallback) or the configured sources.
        var globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var environment = new Dictionary<string, string>
        {
            ["NUGET_PACKAGES"] = Path.Combine(feed.Root, "nuget-packages"),
            ["RestoreFallbackFolders"] = globalPackages,
        };

        var tools = Path.Combine(feed.Root, "tools");
        var (toolExit, toolOutput) = await Dotnet.RunAsync(
            feed.Root, s_toolTimeout, environment,
            "tool", "install", "--tool-path", tools, "--add-source", feed.Feed, "TaskQueue.Cli", "--version", feed.Version);
        Assert.True(toolExit == 0, $"dotnet tool install exited {toolExit}:\n{toolOutput}");
        environment["TASKQUEUE_CLI"] = Path.Combine(tools, OperatingSystem.IsWindows() ? "taskqueue.exe" : "taskqueue");
        Assert.True(File.Exists(environment["TASKQUEUE_CLI"]), $"the tool installed no 'taskqueue' command:\n{toolOutput}");

        var (exitCode, testOutput) = await Dotnet.RunAsync(
            solution, s_consumerTimeout, environment,
            "test", Path.Combine("ImageShop.Tests", "ImageShop.Tests.csproj"), $"-p:TaskQueueVersion={feed.Version}", "-nologo",
            "--logger", "console;verbosity=normal");
        output.WriteLine(testOutput.Length > 20_000 ? testOutput[^20_000..] : testOutput);

        Assert.True(exitCode == 0, $"the team's dotnet test exited {exitCode}");
        Assert.Contains("Passed ImageShop.Tests.ResizeTests.An_image_queued_through_the_api_is_resized_by_the_worker_and_the_api_returns_the_thumbnail", testOutput, StringComparison.Ordinal);
    }

    private static void Copy(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            {
                continue;
            }

            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }
}
