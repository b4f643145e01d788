using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;

namespace TaskQueue.Tests.Client;

/// <summary>
/// The TaskQueue.Client package as a consumer gets it: packed from the build the tests ran against, its
/// .nuspec read. An application that references it takes in no ASP.NET Core, no command-line parser.
/// </summary>
public sealed class ClientPackageTests : IDisposable
{
    private static readonly string[] s_allowedDependencyPrefixes = ["Grpc.Net.Client", "Grpc.Net.ClientFactory", "Google.Protobuf", "Microsoft.Extensions."];

    private readonly string _feed = Directory.CreateTempSubdirectory("taskqueue-client-pack-").FullName;

    public void Dispose() => Directory.Delete(_feed, recursive: true);

    [Fact]
    public async Task The_client_package_depends_on_gRPC_protobuf_and_extension_abstractions_only()
    {
        var nuspec = await PackAsync("TaskQueue.Client");
        var ns = nuspec.Root!.Name.Namespace;

        var frameworkReferences = nuspec.Descendants(ns + "frameworkReference").Select(e => e.Attribute("name")!.Value).ToList();
        var dependencies = nuspec.Descendants(ns + "dependency").Select(e => e.Attribute("id")!.Value).Distinct(StringComparer.Ordinal).ToList();

        Assert.Equal("TaskQueue.Client", nuspec.Descendants(ns + "id").Single().Value);
        Assert.DoesNotContain("Microsoft.AspNetCore.App", frameworkReferences);
        Assert.DoesNotContain("System.CommandLine", dependencies);
        Assert.DoesNotContain(dependencies, id => id.StartsWith("TaskQueue.", StringComparison.Ordinal) || id.Contains("OpenTelemetry", StringComparison.Ordinal));
        Assert.All(dependencies, id => Assert.Contains(s_allowedDependencyPrefixes, prefix => id.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.Contains("Grpc.Net.ClientFactory", dependencies);
    }

    /// <summary><c>dotnet pack --no-build</c> of the project's build in the tests' configuration; returns its .nuspec.</summary>
    private async Task<XDocument> PackAsync(string project)
    {
        var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = BuildOutput.RepositoryRoot(),
        };
        foreach (var arg in new[] { "pack", Path.Combine(project, project + ".csproj"), "-c", configuration, "--no-build", "-o", _feed, "-nologo" })
        {
            info.ArgumentList.Add(arg);
        }

        using var pack = Process.Start(info)!;
        var output = pack.StandardOutput.ReadToEndAsync();
        var error = pack.StandardError.ReadToEndAsync();
        await pack.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(pack.ExitCode == 0, $"dotnet pack {project} exited {pack.ExitCode}:\n{await output}\n{await error}");

        var package = Assert.Single(Directory.GetFiles(_feed, project + ".*.nupkg"), path => !path.EndsWith(".snupkg", StringComparison.Ordinal));
        using var zip = ZipFile.OpenRead(package);
        var entry = Assert.Single(zip.Entries, e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        await using var stream = entry.Open();
        return await XDocument.LoadAsync(stream, LoadOptions.None, CancellationToken.None);
    }
}
