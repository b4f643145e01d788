using System.Globalization;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// How big a fault run is. CI runs the short default; TASKQUEUE_FAULT_SCALE multiplies every scenario's load
/// (2 = twice as long), TASKQUEUE_SOAK_DURATION sets how long the mixed campaign runs (scripts/soak.sh),
/// TASKQUEUE_FAULT_REPORT names a file every ledger is appended to as well, and TASKQUEUE_FAULT_KEEP_LOGS=1
/// keeps the workers' execution logs.
/// </summary>
internal static class FaultSettings
{
    public const string ScaleVariable = "TASKQUEUE_FAULT_SCALE";
    public const string SoakDurationVariable = "TASKQUEUE_SOAK_DURATION";
    public const string ReportFileVariable = "TASKQUEUE_FAULT_REPORT";
    public const string KeepLogsVariable = "TASKQUEUE_FAULT_KEEP_LOGS";

    public static readonly TimeSpan CiSoakDuration = TimeSpan.FromSeconds(12);

    public static double Scale { get; } = ParseScale(Environment.GetEnvironmentVariable(ScaleVariable));

    public static TimeSpan SoakDuration { get; } = ParseDuration(Environment.GetEnvironmentVariable(SoakDurationVariable)) ?? CiSoakDuration;

    public static string? ReportFile { get; } = Environment.GetEnvironmentVariable(ReportFileVariable) is { Length: > 0 } path ? path : null;

    /// <summary>Keep the workers' execution logs of every run (their directory is in the test output).</summary>
    public static bool KeepLogs { get; } = Environment.GetEnvironmentVariable(KeepLogsVariable) is "1" or "true";

    public static TimeSpan Scaled(TimeSpan ciSize) => ciSize * Scale;

    /// <summary>"90" (seconds), "90s", "10m", "1h" or "00:10:00".</summary>
    public static TimeSpan? ParseDuration(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        var unit = text[^1] switch
        {
            's' => TimeSpan.FromSeconds(1),
            'm' => TimeSpan.FromMinutes(1),
            'h' => TimeSpan.FromHours(1),
            _ => (TimeSpan?)null,
        };
        var number = unit is null ? text : text[..^1];
        if (double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value > 0)
        {
            return (unit ?? TimeSpan.FromSeconds(1)) * value;
        }

        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
            ? span
            : throw new FormatException($"{SoakDurationVariable}='{text}' is not a duration (e.g. 90s, 30m, 00:30:00).");
    }

    private static double ParseScale(string? text) =>
        string.IsNullOrWhiteSpace(text) ? 1
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) && scale > 0 ? scale
        : throw new FormatException($"{ScaleVariable}='{text}' is not a positive number.");
}
