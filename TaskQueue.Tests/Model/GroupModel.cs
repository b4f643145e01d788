using CsCheck;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Model;

/// <summary>Sets a concurrency limit of the groups: every group's default (<paramref name="Group"/> -1) or one group's override; 0 clears it.</summary>
internal sealed record GroupLimitOp(int Group, int Limit) : ModelOp
{
    public override string ToString() =>
        (Group < 0 ? "Group concurrency default " : $"Group {QueueModel.GroupName(Group)} concurrency ") + (Limit == 0 ? "cleared" : $"{Limit}");
}

internal static class GroupGen
{
    /// <summary>A task's group: none, or one of three.</summary>
    public static Gen<int> Group { get; } = Gen.Frequency((2, Gen.Const(-1)), (3, Gen.Int[0, QueueModel.GroupCount - 1]));

    public static Gen<ModelOp> GroupLimit { get; } =
        Gen.Select(Gen.Int[-1, QueueModel.GroupCount - 1], Gen.OneOfConst(0, 1, 2), (group, limit) => (ModelOp)new GroupLimitOp(group, limit));
}

/// <summary>What one claim call has leased and expired so far.</summary>
internal sealed record LaneClaim(string Worker, long LeaseMs, List<ModelTask> Leased)
{
    public int Expired { get; set; }
}

/// <summary>
/// Groups (lib/groups.lua): each level's group lanes take turns in a rotation (group → turn, and a counter of turns
/// given); a claim serves the groups in rounds, lowest turn first, each an equal share (at least one) of what the
/// claim still wants, within its concurrency limit; a group served or at its limit gets the next turn, a group
/// whose lane ran out leaves the rotation. Tasks without a group take part as the group "" (at turn 0 when absent).
/// </summary>
internal sealed partial class QueueModel
{
    public const int GroupCount = 3;

    /// <summary>The lanes of a level: "" (no group) and every group.</summary>
    public static IReadOnlyList<string> Groups { get; } = [.. Enumerable.Range(-1, GroupCount + 1).Select(g => g < 0 ? "" : GroupName(g))];

    private readonly Dictionary<string, long>[] _rotation = [.. Enumerable.Range(0, Levels).Select(_ => new Dictionary<string, long>(StringComparer.Ordinal))];

    /// <summary>Each level's rotation counter (the field of ROTATIONS); null while the level has no rotation.</summary>
    private readonly long?[] _turns = new long?[Levels];

    public static string GroupName(int group) => "g" + group;

    /// <summary>Every group's default concurrency limit (group_concurrency); null = none.</summary>
    public int? GroupConcurrency { get; set; }

    /// <summary>One group's override of the default (tq:{q}:flow:groups).</summary>
    public Dictionary<string, int> GroupOverrides { get; } = new(StringComparer.Ordinal);

    public int GroupLeased(string group) => Tasks.Count(t => t.State == ModelState.Leased && t.Group == group);

    /// <summary>open_lane in lib/common.lua: a plain lane joins LEVELS, a group joins its level's rotation at the next turn.</summary>
    private void OpenLane(ModelTask task)
    {
        if (task.Group == "")
        {
            LevelsUsed.Add(task.Priority);
        }
        else if (!_rotation[task.Priority].ContainsKey(task.Group))
        {
            _rotation[task.Priority][task.Group] = NextTurn(task.Priority);
        }
    }

    private long NextTurn(int level) => (_turns[level] = (_turns[level] ?? 0) + 1).Value;

    /// <summary>Leases up to <paramref name="want"/> tasks of one level: from its plain lane, or round-robin from its rotation (serve_rotation).</summary>
    private void ServeLevel(int level, int want, LaneClaim claim)
    {
        if (_turns[level] is null)
        {
            TakeLane(level, "", want, claim);
            return;
        }

        var rotation = _rotation[level];
        if (LevelsUsed.Contains(level))
        {
            rotation.TryAdd("", 0);
        }

        var (got, skipped) = (0, new HashSet<string>(StringComparer.Ordinal));
        while (got < want)
        {
            var roundEnd = _turns[level] ?? 0;
            var share = Math.Max(1, (want - got) / Math.Max(1, rotation.Count));
            var round = rotation.Where(r => r.Value <= roundEnd).OrderBy(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal).Select(r => r.Key).ToList();
            var served = 0;
            foreach (var group in round)
            {
                if (got >= want)
                {
                    break;
                }

                if (skipped.Contains(group))
                {
                    continue;
                }

                var allowed = GroupAllowance(group, Math.Min(share, want - got));
                if (allowed == 0)
                {
                    skipped.Add(group);
                    rotation[group] = NextTurn(level);
                    continue;
                }

                var n = TakeLane(level, group, allowed, claim);
                (got, served) = (got + n, served + n);
                if (n == allowed)
                {
                    rotation[group] = NextTurn(level);
                }
                else
                {
                    rotation.Remove(group);
                }
            }

            if (served == 0)
            {
                break;
            }
        }

        if (rotation.Count == 0)
        {
            _turns[level] = null;
        }
    }

    /// <summary>group_allowance: how many of <paramref name="n"/> more tasks a group may lease now ("" has no group limit).</summary>
    private int GroupAllowance(string group, int n)
    {
        var limit = group == "" ? null : GroupOverrides.TryGetValue(group, out var own) ? own : GroupConcurrency;
        if (limit is not { } c)
        {
            return n;
        }

        var free = c - GroupLeased(group);
        if (free <= 0)
        {
            Events.Add("claim skips a group at its limit");
            return 0;
        }

        if (free < n)
        {
            Events.Add("claim capped by a group limit");
        }

        return Math.Min(n, free);
    }
}

internal sealed partial class ModelRun
{
    private async Task<string> GroupLimitAsync(GroupLimitOp op)
    {
        var flow = new RedisFlowStore(_h.Redis.Connection, _h.Clock);
        if (op.Group < 0)
        {
            await flow.SetLimitsAsync(_h.Queue, new FlowLimits(Concurrency: _model.ConcurrencyLimit, GroupConcurrency: op.Limit));
            _model.GroupConcurrency = op.Limit == 0 ? null : op.Limit;
            Assert.Equal(_model.GroupConcurrency, (await flow.GetAsync(_h.Queue)).Limits.GroupConcurrency);
            return "default set";
        }

        var group = QueueModel.GroupName(op.Group);
        var had = _model.GroupOverrides.ContainsKey(group);
        if (op.Limit == 0)
        {
            Assert.Equal(had, await flow.ClearGroupLimitsAsync(_h.Queue, group));
            _model.GroupOverrides.Remove(group);
        }
        else
        {
            Assert.Equal(!had, await flow.SetGroupLimitsAsync(_h.Queue, group, new GroupFlowLimits(Concurrency: op.Limit)));
            _model.GroupOverrides[group] = op.Limit;
        }

        return $"{_model.GroupLeased(group)} of {group} leased";
    }
}
