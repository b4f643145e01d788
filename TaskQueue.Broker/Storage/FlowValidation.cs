namespace TaskQueue.Broker.Storage;

/// <summary>
/// The bounds of flow settings. Out of bounds (negative, NaN, infinite, absurd) is an <see cref="ArgumentException"/>
/// (INVALID_ARGUMENT at the gRPC edge). Zero is no limit and is stored as such (absent), so callers pass null or 0.
/// </summary>
public static class FlowValidation
{
    /// <summary>The largest concurrency limit (more than any deployment's slots).</summary>
    public const int MaxConcurrency = 1_000_000;

    /// <summary>The fastest rate, in tasks per second: above what one Redis can start.</summary>
    public const double MaxRate = 1_000_000;

    /// <summary>The slowest rate, in tasks per second (one task every 1,000 s).</summary>
    public const double MinRate = 0.001;

    /// <summary>The largest token bucket.</summary>
    public const int MaxBurst = 1_000_000;

    /// <summary>The longest group name, as a task's group (TaskSpec.group).</summary>
    public const int MaxGroupLength = 128;

    /// <summary>The limits with zeros turned into "no limit"; throws when one is out of bounds or a burst has no rate.</summary>
    public static FlowLimits Validate(FlowLimits limits)
    {
        var normal = new FlowLimits(
            Concurrency(limits.Concurrency, "concurrency"),
            Rate(limits.Rate, "rate"),
            Burst(limits.Burst, "burst"),
            Concurrency(limits.GroupConcurrency, "group_concurrency"),
            Rate(limits.GroupRate, "group_rate"),
            Burst(limits.GroupBurst, "group_burst"));
        if (normal.Burst is not null && normal.Rate is null)
        {
            throw new ArgumentException("burst needs a rate (it is the size of the rate's token bucket).");
        }

        if (normal.GroupBurst is not null && normal.GroupRate is null)
        {
            throw new ArgumentException("group_burst needs a group_rate (it is the size of the rate's token bucket).");
        }

        return normal;
    }

    /// <summary>A group's overrides with zeros turned into "the default applies"; throws when one is out of bounds.</summary>
    public static GroupFlowLimits Validate(GroupFlowLimits limits) => new(
        Concurrency(limits.Concurrency, "concurrency"),
        Rate(limits.Rate, "rate"),
        Burst(limits.Burst, "burst"));

    /// <summary>Throws unless <paramref name="group"/> is a group name: at most 128 characters, none a control character ("" is the group of tasks without one).</summary>
    public static void ValidateGroup(string? group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Length > MaxGroupLength || group.Any(char.IsControl))
        {
            throw new ArgumentException($"group must be at most {MaxGroupLength} printable characters.", nameof(group));
        }
    }

    private static int? Concurrency(int? value, string name) => value switch
    {
        null or 0 => null,
        < 0 or > MaxConcurrency => throw new ArgumentException($"{name} must be 0 (no limit) or 1 to {MaxConcurrency:N0}.", name),
        _ => value,
    };

    private static double? Rate(double? value, string name) => value switch
    {
        null or 0 => null,
        { } v when !double.IsFinite(v) || v < MinRate || v > MaxRate =>
            throw new ArgumentException($"{name} must be 0 (no limit) or {MinRate} to {MaxRate:N0} tasks per second.", name),
        _ => value,
    };

    private static int? Burst(int? value, string name) => value switch
    {
        null or 0 => null,
        < 0 or > MaxBurst => throw new ArgumentException($"{name} must be 0 (the default) or 1 to {MaxBurst:N0}.", name),
        _ => value,
    };
}
