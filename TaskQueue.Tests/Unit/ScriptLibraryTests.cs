using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class ScriptLibraryTests
{
    private const string ResourcePrefix = "TaskQueue.Broker.Scripts.";

    private static readonly string[] s_transitions =
    [
        "cancel", "claim", "complete", "enqueue", "fail", "list", "promote", "purge", "reap", "release", "renew", "replay", "shorten", "stats",
        "progress", "checkpoint", "watch",
        "schedule_upsert", "schedule_read", "schedule_fire", "schedule_pause", "schedule_trigger", "schedule_delete",
    ];

    public static TheoryData<string> Transitions => new(s_transitions);

    [Fact]
    public void Every_transition_script_is_embedded_and_no_include_is_listed_as_a_transition()
    {
        var names = ScriptLibrary.Names.ToHashSet(StringComparer.Ordinal);

        Assert.Superset(s_transitions.ToHashSet(StringComparer.Ordinal), names);
        Assert.DoesNotContain(names, name => name.StartsWith("lib", StringComparison.Ordinal) || name.Contains('.', StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void A_transition_script_loads_with_its_includes_expanded(string name)
    {
        var script = ScriptLibrary.Get(name);

        Assert.DoesNotContain(script.Split('\n'), line => line.StartsWith("--!include", StringComparison.Ordinal));
        Assert.Equal(1, Occurrences(script, "local base = KEYS[1]"));
        Assert.Equal(1, Occurrences(script, "local function now_ms("));
    }

    [Theory]
    [MemberData(nameof(Transitions))]
    public void An_include_is_replaced_by_the_whole_library_file_in_place(string name)
    {
        var expected = string.Concat(Resource(name + ".lua").Split('\n').Select(line =>
            line.StartsWith("--!include ", StringComparison.Ordinal)
                ? Resource(line["--!include ".Length..].Trim().Replace('/', '.')) + "\n"
                : line + "\n"));

        Assert.Equal(expected, ScriptLibrary.Get(name));
    }

    [Theory]
    [InlineData("claim", "local function promote_due(")]
    [InlineData("promote", "local function promote_due(")]
    [InlineData("fail", "local function settle_failure(")]
    [InlineData("reap", "local function settle_failure(")]
    [InlineData("enqueue", "local function create_task(")]
    [InlineData("schedule_fire", "local function create_task(")]
    [InlineData("schedule_trigger", "local function create_task(")]
    public void A_script_that_includes_a_library_holds_it_exactly_once(string name, string definition) =>
        Assert.Equal(1, Occurrences(ScriptLibrary.Get(name), definition));

    [Theory]
    [MemberData(nameof(Transitions))]
    public void Every_script_header_names_its_keys_arguments_and_returns(string name)
    {
        var header = Header(Resource(name + ".lua"));

        Assert.StartsWith($"-- {name}: ", header[0], StringComparison.Ordinal);
        Assert.Contains(header, line => line.StartsWith("-- KEYS[1]", StringComparison.Ordinal));
        Assert.Contains(header, line => line.StartsWith("-- Returns", StringComparison.Ordinal));
        if (name != "stats")
        {
            Assert.Contains(header, line => line.StartsWith("-- ARGV[", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void The_named_properties_are_the_scripts_of_those_names()
    {
        Assert.Equal(ScriptLibrary.Get("enqueue"), ScriptLibrary.Enqueue);
        Assert.Equal(ScriptLibrary.Get("claim"), ScriptLibrary.Claim);
        Assert.Equal(ScriptLibrary.Get("renew"), ScriptLibrary.Renew);
        Assert.Equal(ScriptLibrary.Get("complete"), ScriptLibrary.Complete);
        Assert.Equal(ScriptLibrary.Get("fail"), ScriptLibrary.Fail);
        Assert.Equal(ScriptLibrary.Get("reap"), ScriptLibrary.Reap);
        Assert.Equal(ScriptLibrary.Get("release"), ScriptLibrary.Release);
        Assert.Equal(ScriptLibrary.Get("shorten"), ScriptLibrary.Shorten);
        Assert.Equal(ScriptLibrary.Get("cancel"), ScriptLibrary.Cancel);
        Assert.Equal(ScriptLibrary.Get("replay"), ScriptLibrary.Replay);
        Assert.Equal(ScriptLibrary.Get("purge"), ScriptLibrary.Purge);
        Assert.Equal(ScriptLibrary.Get("promote"), ScriptLibrary.Promote);
        Assert.Equal(ScriptLibrary.Get("stats"), ScriptLibrary.Stats);
        Assert.Equal(ScriptLibrary.Get("list"), ScriptLibrary.List);
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("lib/common")]
    [InlineData("lib.common")]
    [InlineData("Claim")]
    [InlineData("claim.lua")]
    public void Asking_for_a_script_that_is_not_a_transition_throws(string name) =>
        Assert.Throws<InvalidOperationException>(() => ScriptLibrary.Get(name));

    private static string Resource(string file)
    {
        using var stream = typeof(ScriptLibrary).Assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"No embedded resource {file}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>The leading comment block of a script as written, before its first include or code line.</summary>
    private static List<string> Header(string script) =>
        [.. script.Split('\n').TakeWhile(line => line.StartsWith("-- ", StringComparison.Ordinal))];

    private static int Occurrences(string text, string value)
    {
        var count = 0;
        for (var i = text.IndexOf(value, StringComparison.Ordinal); i >= 0; i = text.IndexOf(value, i + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
