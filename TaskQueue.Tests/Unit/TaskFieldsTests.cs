using System.Reflection;
using System.Text.RegularExpressions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

/// <summary>The task hash's field names: Storage/TaskFields.cs and the list in Scripts/lib/common.lua agree.</summary>
public sealed partial class TaskFieldsTests
{
    [Fact]
    public void The_scripts_list_the_same_task_fields_as_the_store() =>
        Assert.Equal(TaskFields.All.Order(StringComparer.Ordinal), ListedInCommonLua().Order(StringComparer.Ordinal));

    [Fact]
    public void Every_constant_is_in_the_list_of_all_fields_once()
    {
        var constants = typeof(TaskFields).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral)
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToList();

        Assert.Equal(constants.Order(StringComparer.Ordinal), TaskFields.All.Order(StringComparer.Ordinal));
        Assert.Equal(TaskFields.All.Count, TaskFields.All.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void The_enqueue_script_writes_every_field_a_new_task_has()
    {
        var enqueue = ScriptLibrary.Get("enqueue");
        string[] writtenLater =
        [
            TaskFields.Started, TaskFields.Finished, TaskFields.Result, TaskFields.Error,
            TaskFields.Progress, TaskFields.ProgressMessage, TaskFields.ProgressAt, TaskFields.Checkpoint,
            TaskFields.AttemptHistory,
        ];

        Assert.All(TaskFields.All.Except(writtenLater), field => Assert.Contains($"'{field}', ", enqueue, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_field_is_spelled_by_some_script()
    {
        var scripts = string.Concat(ScriptLibrary.Names.Select(ScriptLibrary.Get));

        Assert.All(TaskFields.All, field => Assert.Contains($"'{field}'", scripts, StringComparison.Ordinal));
    }

    /// <summary>The names in common.lua's list of task fields: lines "--   name  meaning" (a meaning may go on, indented further) under its heading.</summary>
    private static List<string> ListedInCommonLua()
    {
        var common = ScriptLibrary.Get("stats");
        var start = common.IndexOf("-- A task's hash (task_key(id)) has these fields", StringComparison.Ordinal);
        Assert.True(start >= 0, "common.lua no longer lists the task hash fields");

        var names = new List<string>();
        foreach (var line in common[start..].Split('\n'))
        {
            if (FieldLine().Match(line) is { Success: true } match)
            {
                names.Add(match.Groups[1].Value);
            }
            else if (names.Count > 0 && ContinuationLine().IsMatch(line))
            {
                // The meaning of the field above, continued.
            }
            else if (names.Count > 0)
            {
                break;
            }
        }

        return names;
    }

    [GeneratedRegex(@"^--   ([a-z]+) +\S")]
    private static partial Regex FieldLine();

    [GeneratedRegex(@"^-- {4,}\S")]
    private static partial Regex ContinuationLine();
}
