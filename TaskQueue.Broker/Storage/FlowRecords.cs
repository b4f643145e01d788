using System.Globalization;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// A queue's limits (Scripts/lib/flow.lua); null is no limit. The group fields are every group's default.
/// <see cref="FlowValidation.Validate(FlowLimits)"/> bounds them.
/// </summary>
public sealed record FlowLimits(
    int? Concurrency = null,
    double? Rate = null,
    int? Burst = null,
    int? GroupConcurrency = null,
    double? GroupRate = null,
    int? GroupBurst = null)
{
    public static FlowLimits None { get; } = new();

    /// <summary>The bucket's size the claim script uses when none is set: one second's worth, at least 1.</summary>
    public static int DefaultBurst(double rate) => (int)Math.Max(1, Math.Ceiling(rate));
}

/// <summary>One group's overrides of its queue's group limits; null where the queue's default applies.</summary>
public sealed record GroupFlowLimits(int? Concurrency = null, double? Rate = null, int? Burst = null)
{
    /// <summary>As FLOW_GROUPS stores it: "&lt;concurrency&gt; &lt;rate&gt; &lt;burst&gt;", "-" where the default applies.</summary>
    public string ToStored() => $"{Text(Concurrency)} {Text(Rate)} {Text(Burst)}";

    /// <summary>Reads a stored override; a malformed part reads as the default.</summary>
    public static GroupFlowLimits FromStored(string stored)
    {
        var parts = stored.Split(' ');
        string? Part(int i) => i < parts.Length && parts[i] != "-" ? parts[i] : null;
        return new GroupFlowLimits(FlowText.Int(Part(0)), FlowText.Double(Part(1)), FlowText.Int(Part(2)));
    }

    private static string Text(int? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : "-";

    private static string Text(double? value) => value is { } v ? FlowText.Of(v) : "-";
}

/// <summary>A queue's flow control as one read sees it (Scripts/readflow.lua).</summary>
/// <param name="Leased">Tasks of the queue leased now: what its concurrency limit counts.</param>
/// <param name="Tokens">Its token bucket's tokens now, by Redis's clock; null without a rate.</param>
public sealed record QueueFlowState(
    string Queue,
    bool Paused,
    FlowLimits Limits,
    IReadOnlyDictionary<string, GroupFlowLimits> GroupOverrides,
    long Leased,
    double? Tokens);

/// <summary>How the flow settings are written as text in Redis (invariant culture, round-trip doubles).</summary>
internal static class FlowText
{
    public static string Of(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static int? Int(string? text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;

    public static double? Double(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0 && double.IsFinite(d) ? d : null;

    /// <summary>The limits from the settings fields in <see cref="FlowFields.Settings"/> order (the first is <c>paused</c>).</summary>
    public static (bool Paused, FlowLimits Limits) Settings(IReadOnlyList<string?> values) => (
        values[0] == "1",
        new FlowLimits(Int(values[1]), Double(values[2]), Int(values[3]), Int(values[4]), Double(values[5]), Int(values[6])));
}
