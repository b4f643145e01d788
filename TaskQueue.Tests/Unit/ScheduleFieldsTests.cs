using System.Reflection;
using System.Text.RegularExpressions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

/// <summary>The schedule hash's field names: Storage/ScheduleFields.cs and the list in Scripts/lib/schedule.lua agree.</summary>
public sealed partial class ScheduleFieldsTests
{
    [Fact]
    public void The_scripts_list_the_same_schedule_fields_as_the_store() =>
        Assert.Equal(ScheduleFields.All, ListedInScheduleLua());

    [Fact]
    public void Every_constant_is_in_the_list_of_all_fields_once()
    {
        var constants = typeof(ScheduleFields).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();

        Assert.Equal(constants.Order(StringComparer.Ordinal), ScheduleFields.All.Order(StringComparer.Ordinal));
        Assert.Equal(ScheduleFields.All.Count, ScheduleFields.All.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Every_field_is_spelled_by_some_schedule_script()
    {
        var scripts = string.Concat(ScriptLibrary.Names.Where(n => n.StartsWith("schedule_", StringComparison.Ordinal)).Select(ScriptLibrary.Get));

        // The definition's fields arrive as ARGV pairs from the store (RedisScheduleStore names them): read by name.
        string[] passedIn = [ScheduleFields.Cron, ScheduleFields.TimeZone, ScheduleFields.CatchUp, ScheduleFields.CatchUpMax];
        Assert.All(ScheduleFields.All.Except(passedIn), field => Assert.Contains($"'{field}'", scripts, StringComparison.Ordinal));
    }

    /// <summary>The names in lib/schedule.lua's list: lines "--   name  meaning" after its heading, up to the key descriptions.</summary>
    private static List<string> ListedInScheduleLua()
    {
        var script = ScriptLibrary.Get("schedule_read");
        var start = script.IndexOf("Its hash (schedule_key(name))", StringComparison.Ordinal);
        Assert.True(start >= 0, "lib/schedule.lua no longer lists the schedule hash fields");

        var names = new List<string>();
        foreach (var line in script[start..].Split('\n').Skip(2))
        {
            if (FieldLine().Match(line) is not { Success: true } match)
            {
                break;
            }

            names.Add(match.Groups[1].Value);
        }

        return names;
    }

    [GeneratedRegex(@"^--   ([a-z_]+)\s")]
    private static partial Regex FieldLine();
}
