using System.Text.RegularExpressions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed partial class ScriptCodesTests
{
    [Theory]
    [InlineData(-1, TransitionResult.NotFound)]
    [InlineData(0, TransitionResult.StaleLease)]
    [InlineData(1, TransitionResult.Ok)]
    [InlineData(2, TransitionResult.Retrying)]
    [InlineData(3, TransitionResult.DeadLettered)]
    [InlineData(4, TransitionResult.Cancelled)]
    [InlineData(5, TransitionResult.CancelRequested)]
    [InlineData(6, TransitionResult.AlreadyFinished)]
    [InlineData(7, TransitionResult.TimedOut)]
    public void Every_script_code_maps_to_its_result(long code, TransitionResult expected) =>
        Assert.Equal(expected, ScriptCodes.ToResult(code));

    [Fact]
    public void Every_result_has_a_script_code() =>
        Assert.All(Enum.GetValues<TransitionResult>(), r => Assert.Equal(r, ScriptCodes.ToResult((long)r)));

    [Theory]
    [InlineData(-2)]
    [InlineData(8)]
    [InlineData(100)]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void An_unknown_script_code_throws(long code) =>
        Assert.Throws<InvalidOperationException>(() => ScriptCodes.ToResult(code));

    [Theory]
    [InlineData("OK", TransitionResult.Ok)]
    [InlineData("STALE", TransitionResult.StaleLease)]
    [InlineData("MISSING", TransitionResult.NotFound)]
    [InlineData("RETRYING", TransitionResult.Retrying)]
    [InlineData("DEAD_LETTERED", TransitionResult.DeadLettered)]
    [InlineData("CANCELLED", TransitionResult.Cancelled)]
    [InlineData("CANCEL_REQUESTED", TransitionResult.CancelRequested)]
    [InlineData("ALREADY_FINISHED", TransitionResult.AlreadyFinished)]
    [InlineData("TIMED_OUT", TransitionResult.TimedOut)]
    public void The_lua_constants_have_the_values_the_store_maps(string name, TransitionResult expected)
    {
        var constants = LuaConstants(ScriptLibrary.Get("stats"));

        Assert.Equal((long)expected, constants[name]);
    }

    [Theory]
    [InlineData("ready", TaskState.Ready)]
    [InlineData("scheduled", TaskState.Scheduled)]
    [InlineData("leased", TaskState.Leased)]
    [InlineData("completed", TaskState.Completed)]
    [InlineData("dead", TaskState.DeadLettered)]
    [InlineData("cancelled", TaskState.Cancelled)]
    [InlineData("expired", TaskState.Expired)]
    public void Every_stored_state_maps_to_its_task_state(string state, TaskState expected) =>
        Assert.Equal(expected, ScriptCodes.ToState(state));

    [Fact]
    public void Every_task_state_is_written_by_some_script()
    {
        var written = new[] { "ready", "scheduled", "leased", "completed", "dead", "cancelled", "expired" };
        var allScripts = string.Concat(ScriptLibrary.Names.Select(ScriptLibrary.Get));

        Assert.Equal(Enum.GetValues<TaskState>().Length, written.Select(ScriptCodes.ToState).Distinct().Count());
        Assert.All(written, state => Assert.Contains($"'{state}'", allScripts, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Ready")]
    [InlineData("running")]
    [InlineData(" ready")]
    public void An_unknown_stored_state_throws(string? state) =>
        Assert.Throws<InvalidOperationException>(() => ScriptCodes.ToState(state));

    /// <summary>Reads lines like <c>local A, B = 1, 2</c> into name → value.</summary>
    private static Dictionary<string, long> LuaConstants(string script)
    {
        var constants = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (Match match in LocalNumbers().Matches(script))
        {
            var names = match.Groups["names"].Value.Split(',', StringSplitOptions.TrimEntries);
            var values = match.Groups["values"].Value.Split(',', StringSplitOptions.TrimEntries);
            for (var i = 0; i < Math.Min(names.Length, values.Length); i++)
            {
                constants[names[i]] = long.Parse(values[i], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return constants;
    }

    [GeneratedRegex(@"^local (?<names>[A-Z_]+(?:, [A-Z_]+)*) = (?<values>-?\d+(?:, -?\d+)*)\s*$", RegexOptions.Multiline)]
    private static partial Regex LocalNumbers();
}
