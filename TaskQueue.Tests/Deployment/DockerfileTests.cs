using System.Xml.Linq;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// The images' Dockerfiles, checked as text (no Docker engine here): two stages, a non-root runtime
/// user, the right entry point, and every project and file the service builds from copied in.
/// </summary>
public sealed class DockerfileTests
{
    public static TheoryData<string> Projects => new(ServiceSettings.All.Values.Select(settings => settings.Project));

    [Theory]
    [MemberData(nameof(Projects))]
    public void Each_image_builds_with_the_SDK_and_runs_on_the_runtime_as_a_non_root_user(string project)
    {
        var lines = Instructions(project);
        var stages = lines.Select((line, index) => (line, index)).Where(x => x.line.StartsWith("FROM ", StringComparison.Ordinal)).ToList();
        var final = lines.Skip(stages[^1].index).ToList();

        Assert.Equal(2, stages.Count);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/sdk:10.0", stages[0].line, StringComparison.Ordinal);
        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", stages[1].line, StringComparison.Ordinal);
        // appsettings.json is found in the content root: the working directory.
        Assert.Contains("WORKDIR /app", final);
        var user = Assert.Single(final, line => line.StartsWith("USER ", StringComparison.Ordinal));
        Assert.DoesNotContain(user[5..].Trim(), new[] { "root", "0" });
        Assert.Equal($"ENTRYPOINT [\"dotnet\", \"{project}.dll\"]", Assert.Single(final, line => line.StartsWith("ENTRYPOINT", StringComparison.Ordinal)));
        Assert.Contains(lines, line => line.StartsWith($"RUN dotnet publish {project}/{project}.csproj", StringComparison.Ordinal) && line.Contains("-c Release", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Projects))]
    public void Each_image_copies_every_project_and_build_file_its_service_is_built_from(string project)
    {
        var copied = Instructions(project)
            .Where(line => line.StartsWith("COPY ", StringComparison.Ordinal) && !line.Contains("--from", StringComparison.Ordinal))
            .SelectMany(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1])
            .Select(path => path.TrimEnd('/'))
            .ToHashSet(StringComparer.Ordinal);
        var needed = new HashSet<string>(StringComparer.Ordinal) { "global.json", "Directory.Build.props", "Directory.Packages.props", ".editorconfig" };
        foreach (var built in ProjectClosure(project))
        {
            needed.Add(built);
            needed.UnionWith(LinkedFolders(built));
        }

        Assert.Empty(needed.Except(copied));
    }

    [Fact]
    public void The_build_context_leaves_out_build_output_tests_and_git()
    {
        var ignored = File.ReadAllLines(Path.Combine(ComposeFile.RepositoryRoot, ".dockerignore"))
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .ToHashSet(StringComparer.Ordinal);

        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "**/bin/", "**/obj/", ".git/", "TaskQueue.Tests/" }, ignored);
        Assert.DoesNotContain(ignored, line => ProjectClosure("TaskQueue.Broker").Concat(ProjectClosure("TaskQueue.WorkerService")).Concat(ProjectClosure("TaskQueue.Cli"))
            .Any(project => line.TrimEnd('/') == project));
    }

    private static List<string> Instructions(string project) =>
        [.. File.ReadAllLines(Path.Combine(ComposeFile.RepositoryRoot, project, "Dockerfile"))
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))];

    /// <summary>The project and every project it references, directly or not (folder names).</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var found = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([project]);
        while (pending.TryPop(out var next))
        {
            if (!found.Add(next))
            {
                continue;
            }

            foreach (var reference in Project(next).Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFileNameWithoutExtension(reference.Attribute("Include")!.Value.Replace('\\', '/')));
            }
        }

        return found;
    }

    /// <summary>Top folders outside the project that it compiles files from (../protos/x.proto → protos).</summary>
    private static IEnumerable<string> LinkedFolders(string project) =>
        Project(project).Descendants()
            .Select(element => element.Attribute("Include")?.Value.Replace('\\', '/'))
            .Where(include => include is not null && include.StartsWith("../", StringComparison.Ordinal) && !include.EndsWith(".csproj", StringComparison.Ordinal))
            .Select(include => include!.Split('/')[1]);

    private static XDocument Project(string project) =>
        XDocument.Load(Path.Combine(ComposeFile.RepositoryRoot, project, project + ".csproj"));
}
