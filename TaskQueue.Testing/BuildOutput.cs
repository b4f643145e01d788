namespace TaskQueue.Testing;

/// <summary>Where the repository's projects are built: beside the running build, same configuration and framework.</summary>
public static class BuildOutput
{
    /// <summary>The folder holding TaskQueue.sln above the running build.</summary>
    public static string RepositoryRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "TaskQueue.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException($"TaskQueue.sln was not found above {AppContext.BaseDirectory}.");
    }

    /// <summary>
    /// &lt;repo&gt;/{project}/bin/&lt;configuration&gt;/&lt;framework&gt; of the running build's configuration and
    /// framework, with "{project}" left in for the project name.
    /// </summary>
    public static string DirectoryPattern()
    {
        var output = AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar);
        var framework = Path.GetFileName(output);
        var configuration = Path.GetFileName(Path.GetDirectoryName(output)!);
        return Path.Combine(RepositoryRoot(), "{project}", "bin", configuration, framework);
    }

    /// <summary>The dll of <paramref name="project"/> under <paramref name="directoryPattern"/> (default <see cref="DirectoryPattern"/>); throws when it is not built.</summary>
    public static string Dll(string project, string? directoryPattern = null)
    {
        var path = Path.Combine((directoryPattern ?? DirectoryPattern()).Replace("{project}", project, StringComparison.Ordinal), project + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is missing: build {project} first (`dotnet build {project}`).", path);
    }
}
