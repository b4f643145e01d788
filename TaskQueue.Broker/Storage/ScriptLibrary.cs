using System.Collections.Frozen;
using System.Reflection;
using System.Text;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// The Lua transitions under Scripts/, embedded in the assembly. A line <c>--!include lib/x.lua</c> is
/// replaced by that file, because Redis scripts cannot load modules of their own.
/// </summary>
public static class ScriptLibrary
{
    private const string ResourcePrefix = "TaskQueue.Broker.Scripts.";
    private const string IncludeDirective = "--!include ";

    private static readonly FrozenDictionary<string, string> s_scripts = LoadAll();

    public static string Enqueue => Get("enqueue");
    public static string Claim => Get("claim");
    public static string Renew => Get("renew");
    public static string Complete => Get("complete");
    public static string Fail => Get("fail");
    public static string Reap => Get("reap");
    public static string Release => Get("release");
    public static string Shorten => Get("shorten");
    public static string Cancel => Get("cancel");
    public static string Replay => Get("replay");
    public static string Purge => Get("purge");
    public static string Promote => Get("promote");
    public static string Due => Get("due");
    public static string Stats => Get("stats");
    public static string Explain => Get("explain");
    public static string Progress => Get("progress");
    public static string Checkpoint => Get("checkpoint");
    public static string Watch => Get("watch");
    public static string List => Get("list");
    public static string SetFlow => Get("setflow");
    public static string ReadFlow => Get("readflow");

    /// <summary>Names of every transition script (not the lib/ includes).</summary>
    public static IEnumerable<string> Names => s_scripts.Keys;

    public static string Get(string name) =>
        s_scripts.TryGetValue(name, out var script)
            ? script
            : throw new InvalidOperationException($"No embedded script named '{name}.lua'.");

    private static FrozenDictionary<string, string> LoadAll()
    {
        var assembly = typeof(ScriptLibrary).Assembly;
        return assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal)
                           && !name.StartsWith(ResourcePrefix + "lib.", StringComparison.Ordinal)
                           && name.EndsWith(".lua", StringComparison.Ordinal))
            .ToFrozenDictionary(
                name => name[ResourcePrefix.Length..^".lua".Length],
                name => Expand(assembly, name));
    }

    private static string Expand(Assembly assembly, string resource)
    {
        var output = new StringBuilder();
        foreach (var line in Read(assembly, resource).Split('\n'))
        {
            if (line.StartsWith(IncludeDirective, StringComparison.Ordinal))
            {
                var path = line[IncludeDirective.Length..].Trim();
                output.Append(Read(assembly, ResourcePrefix + path.Replace('/', '.'))).Append('\n');
            }
            else
            {
                output.Append(line).Append('\n');
            }
        }

        return output.ToString();
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The embedded script '{resource}' is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
