using System.Globalization;
using System.CommandLine.Parsing;

namespace TaskQueue.Cli;

/// <summary>Parses "250ms", "5s", "1.5m", "2h", "1d", "00:00:05" or a bare number of seconds.</summary>
internal static class DurationParser
{
    private static readonly (string Suffix, double Milliseconds)[] Units =
    [
        ("ms", 1),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];

    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text.Contains(':', StringComparison.Ordinal))
        {
            return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration) && duration >= TimeSpan.Zero;
        }

        // "ms" before "m" and "s": the longest suffix that matches wins.
        foreach (var (suffix, milliseconds) in Units.OrderByDescending(unit => unit.Suffix.Length))
        {
            if (text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && TryParseNumber(text[..^suffix.Length], out var value))
            {
                duration = TimeSpan.FromMilliseconds(value * milliseconds);
                return true;
            }
        }

        if (TryParseNumber(text, out var seconds))
        {
            duration = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return false;
    }

    /// <summary>A System.CommandLine custom parser for TimeSpan options.</summary>
    internal static TimeSpan Parse(ArgumentResult result)
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (TryParse(token, out var duration))
        {
            return duration;
        }

        result.AddError($"'{token}' is not a duration: use e.g. 500ms, 5s, 2m, 1h or 00:00:05.");
        return TimeSpan.Zero;
    }

    private static bool TryParseNumber(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && value >= 0 && double.IsFinite(value);
}
