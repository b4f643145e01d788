using CsCheck;

namespace TaskQueue.Tests.Model;

/// <summary>
/// One step of a generated sequence. Steps name tasks by "pick" numbers, resolved modulo the tasks that
/// exist when the step runs, so every shrunk or shortened sequence still means something.
/// </summary>
/// <remarks>
/// Time is counted in units of 5 minutes. The clock only ever jumps by an even number of units while every
/// duration a step sets (delay, lease, backoff, expiry, grace) is an odd number of units, so a deadline
/// never lands on "now": the model never has to guess how Redis breaks a tie at a boundary, and the real
/// time a run takes (seconds, against a margin of half a unit) cannot flip a comparison.
/// </remarks>
internal abstract record ModelOp
{
    public const long UnitMs = 5 * 60_000;
}

/// <param name="DelayUnits">0 = ready at once; otherwise scheduled that many units ahead (odd).</param>
/// <param name="MaxAttempts">0 = the store's default.</param>
/// <param name="Key">-1 = no idempotency key; otherwise one of a few shared keys, so keys repeat.</param>
/// <param name="ExpiryUnits">0 = never expires; otherwise expires that many units after submission (odd).</param>
/// <param name="Unique">-1 = no unique key; otherwise one of a few shared unique keys.</param>
/// <param name="Debounce">-1 = no debounce key; otherwise one of a few shared debounce keys, with a window of <paramref name="WindowUnits"/> (odd).</param>
/// <param name="Group">-1 = no group; otherwise one of a few groups (<see cref="QueueModel.GroupName"/>).</param>
internal sealed record EnqueueItem(
    int Priority, int DelayUnits, int MaxAttempts, int Key, int ExpiryUnits, bool Timeout, int Unique = -1, int Debounce = -1, int WindowUnits = 0, int Group = -1);

internal sealed record EnqueueOp(EnqueueItem[] Items) : ModelOp
{
    public override string ToString() => $"Enqueue [{string.Join(", ", Items.Select(Item))}]";

    private static string Item(EnqueueItem i) =>
        $"(prio {i.Priority}" +
        (i.DelayUnits > 0 ? $", delay {i.DelayUnits}u" : "") +
        (i.MaxAttempts > 0 ? $", max {i.MaxAttempts}" : "") +
        (i.Key >= 0 ? $", key k{i.Key}" : "") +
        (i.ExpiryUnits > 0 ? $", expires {i.ExpiryUnits}u" : "") +
        (i.Timeout ? ", timeout" : "") +
        (i.Unique >= 0 ? $", unique u{i.Unique}" : "") +
        (i.Debounce >= 0 ? $", debounce d{i.Debounce} {i.WindowUnits}u" : "") +
        (i.Group >= 0 ? $", group {QueueModel.GroupName(i.Group)}" : "") + ")";
}

internal sealed record ClaimOp(int Max, int Worker, int LeaseUnits) : ModelOp
{
    public override string ToString() => $"Claim {Max} as w{Worker}, lease {LeaseUnits}u";
}

/// <summary>Completes leased tasks with their current tokens (rejected if the lease ran out meanwhile).</summary>
internal sealed record CompleteOp(int[] Picks) : ModelOp
{
    public override string ToString() => $"Complete leased [{string.Join(", ", Picks)}]";
}

internal sealed record FailOp(int[] Picks, bool Retryable) : ModelOp
{
    public override string ToString() => $"Fail leased [{string.Join(", ", Picks)}] {(Retryable ? "retryable" : "fatal")}";
}

internal sealed record RenewOp(int[] Picks, int LeaseUnits) : ModelOp
{
    public override string ToString() => $"Renew leased [{string.Join(", ", Picks)}] for {LeaseUnits}u";
}

internal sealed record ReleaseOp(int[] Picks) : ModelOp
{
    public override string ToString() => $"Release leased [{string.Join(", ", Picks)}]";
}

internal sealed record ShortenOp(int[] Picks, int GraceUnits) : ModelOp
{
    public override string ToString() => $"Shorten leased [{string.Join(", ", Picks)}] to {GraceUnits}u";
}

/// <summary>Progress of leased tasks with their current tokens (refused if the lease ran out meanwhile).</summary>
internal sealed record ProgressOp(int[] Picks, int Percent) : ModelOp
{
    public override string ToString() => $"Progress leased [{string.Join(", ", Picks)}] {Percent}%";
}

/// <summary>A checkpoint of a leased task with its current token; <paramref name="Percent"/> -1 leaves the progress alone.</summary>
internal sealed record CheckpointOp(int Pick, int Percent) : ModelOp
{
    public override string ToString() => $"Checkpoint leased {Pick}" + (Percent >= 0 ? $" at {Percent}%" : "");
}

internal enum StaleKind
{
    Complete,
    Fail,
    Renew,
    Release,
    Shorten,
    Progress,
    Checkpoint,
}

/// <summary>A report for any task with a token that is not its current one: an earlier lease's, or a forged one.</summary>
internal sealed record StaleOp(StaleKind Kind, int Pick, bool Forged) : ModelOp
{
    public override string ToString() => $"Stale {Kind} task {Pick} with {(Forged ? "a forged" : "an old")} token";
}

/// <param name="Units">Always even, so "now" stays half a unit away from every deadline.</param>
internal sealed record AdvanceOp(int Units) : ModelOp
{
    public override string ToString() => $"Advance {Units}u";
}

internal sealed record ReapOp : ModelOp
{
    public override string ToString() => "Reap";
}

internal sealed record PromoteOp : ModelOp
{
    public override string ToString() => "Promote";
}

internal sealed record CancelOp(int Pick) : ModelOp
{
    public override string ToString() => $"Cancel task {Pick}";
}

/// <summary>Replays the picked tasks (those that are dead letters), or every dead letter when there is no pick.</summary>
internal sealed record ReplayOp(int[] Picks) : ModelOp
{
    public override string ToString() => Picks.Length == 0 ? "Replay all" : $"Replay tasks [{string.Join(", ", Picks)}]";
}

internal sealed record PurgeOp(int[] Picks) : ModelOp
{
    public override string ToString() => Picks.Length == 0 ? "Purge all" : $"Purge tasks [{string.Join(", ", Picks)}]";
}

internal static class ModelGen
{
    private static readonly Gen<int> s_pick = Gen.Int[0, 99];
    private static readonly Gen<int[]> s_picks = s_pick.Array[1, 2];
    private static readonly Gen<int> s_leaseUnits = Gen.OneOfConst(1, 3, 5);

    private static readonly Gen<EnqueueItem> s_item = Gen.Select(
        Gen.Frequency((3, Gen.OneOfConst(0, 1, 5)), (1, Gen.Int[0, 9])),
        Gen.Frequency((3, Gen.Const(0)), (2, Gen.OneOfConst(1, 3, 5))),
        Gen.Frequency((2, Gen.Const(0)), (3, Gen.Int[1, 3])),
        Gen.Frequency((3, Gen.Const(-1)), (2, Gen.Int[0, 3])),
        Gen.Frequency((4, Gen.Const(0)), (1, Gen.OneOfConst(5, 9, 17))),
        Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true))),
        (priority, delay, max, key, expiry, timeout) => new EnqueueItem(priority, delay, max, key, expiry, timeout));

    // Unique and debounce keys are few, so they repeat; a task has one or the other (or neither).
    private static readonly Gen<EnqueueItem> s_keyedItem = Gen.Select(
        s_item,
        Gen.Frequency(
            (6, Gen.Const((Unique: -1, Debounce: -1, Window: 0))),
            (2, Gen.Int[0, 2].Select(u => (Unique: u, Debounce: -1, Window: 0))),
            (2, Gen.Select(Gen.Int[0, 1], Gen.OneOfConst(1, 3), (d, w) => (Unique: -1, Debounce: d, Window: w)))),
        GroupGen.Group,
        (item, keys, group) => item with { Unique = keys.Unique, Debounce = keys.Debounce, WindowUnits = keys.Window, Group = group });

    // Mostly small claims; some large enough that a round gives each of a level's groups two or more tasks.
    private static readonly Gen<int> s_claimMax = Gen.Frequency((4, Gen.Int[1, 4]), (1, Gen.Int[5, 12]));

    public static Gen<ModelOp> Operation { get; } = Gen.Frequency(
        (6, s_keyedItem.Array[1, 4].Select(items => (ModelOp)new EnqueueOp(items))),
        (6, Gen.Select(s_claimMax, Gen.Int[0, 2], s_leaseUnits, (max, worker, lease) => (ModelOp)new ClaimOp(max, worker, lease))),
        (3, s_picks.Select(picks => (ModelOp)new CompleteOp(picks))),
        (4, Gen.Select(s_picks, Gen.Bool, (picks, retryable) => (ModelOp)new FailOp(picks, retryable))),
        (1, Gen.Select(s_picks, s_leaseUnits, (picks, lease) => (ModelOp)new RenewOp(picks, lease))),
        (1, s_picks.Select(picks => (ModelOp)new ReleaseOp(picks))),
        (1, Gen.Select(s_picks, Gen.OneOfConst(1, 3), (picks, grace) => (ModelOp)new ShortenOp(picks, grace))),
        (2, Gen.Select(Gen.Enum<StaleKind>(), s_pick, Gen.Bool, (kind, pick, forged) => (ModelOp)new StaleOp(kind, pick, forged))),
        (1, Gen.Select(s_picks, Gen.Int[0, 100], (picks, percent) => (ModelOp)new ProgressOp(picks, percent))),
        (1, Gen.Select(s_pick, Gen.Frequency((1, Gen.Const(-1)), (2, Gen.Int[0, 100])), (pick, percent) => (ModelOp)new CheckpointOp(pick, percent))),
        (4, Gen.OneOfConst(2, 4, 6, 10, 20, 60).Select(units => (ModelOp)new AdvanceOp(units))),
        (3, Gen.Const((ModelOp)new ReapOp())),
        (1, Gen.Const((ModelOp)new PromoteOp())),
        (2, s_pick.Select(pick => (ModelOp)new CancelOp(pick))),
        (2, Gen.Frequency((1, Gen.Const(Array.Empty<int>())), (1, s_pick.Array[1, 2])).Select(picks => (ModelOp)new ReplayOp(picks))),
        (1, Gen.Frequency((1, Gen.Const(Array.Empty<int>())), (1, s_pick.Array[1, 2])).Select(picks => (ModelOp)new PurgeOp(picks))),
        (1, FlowGen.Pause),
        (1, FlowGen.ConcurrencyLimit),
        (2, GroupGen.GroupLimit));

    public static Gen<ModelOp[]> Sequence { get; } = Operation.Array[1, 40];

    public static string Print(ModelOp[] ops) =>
        string.Join(Environment.NewLine, ops.Select((op, i) => $"  {i,2}: {op}").Prepend($"{ops.Length} operations:"));
}
