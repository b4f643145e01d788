using System.Text.RegularExpressions;
using TaskQueue.Tests.Deployment;

namespace TaskQueue.Tests.Packaging;

/// <summary>The README's "Use TaskQueue in your own Aspire app" shows the consumer sample, file for file, so the code a
/// reader copies is the code <see cref="ConsumerTests"/> builds.</summary>
public sealed partial class ReadmeSampleTests
{
    private const string SectionHeading = "## Use TaskQueue in your own Aspire app";

    [Fact]
    public void Every_csharp_block_of_the_readmes_own_app_section_is_a_whole_file_of_the_consumer_sample()
    {
        var readme = Normalize(File.ReadAllText(Path.Combine(ComposeFile.RepositoryRoot, "README.md")));
        var start = readme.IndexOf(SectionHeading, StringComparison.Ordinal);
        Assert.True(start >= 0, $"README.md has no '{SectionHeading}'");
        var end = readme.IndexOf("\n## ", start + SectionHeading.Length, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];

        var sample = Path.Combine(ComposeFile.RepositoryRoot, "TaskQueue.Tests", "Packaging", "Sample");
        var files = Directory.GetFiles(sample, "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(path => Normalize(File.ReadAllText(path)).Trim(), path => Path.GetRelativePath(sample, path));

        var blocks = CSharpBlock().Matches(section).Select(m => m.Groups[1].Value.Trim()).ToList();
        Assert.True(blocks.Count >= 4, $"expected the AppHost, the handler, the worker's and the API's Program.cs; found {blocks.Count} C# blocks");
        Assert.All(blocks, block => Assert.True(files.ContainsKey(block), $"this README block is no file of the sample:\n{block}"));
        Assert.Contains(files.Keys, code => code.Contains("AddTaskQueue(\"taskqueue\")", StringComparison.Ordinal) && blocks.Contains(code));
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal);

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
