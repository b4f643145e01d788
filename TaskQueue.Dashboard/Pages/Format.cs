using System.Globalization;

namespace TaskQueue.Dashboard.Pages;

/// <summary>How the pages write times and long texts (Razor HTML-encodes what they return).</summary>
public static class Format
{
    public static string Time(DateTimeOffset? time) =>
        time is { } value ? value.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff 'UTC'", CultureInfo.InvariantCulture) : "";

    public static string Cut(string? text, int length) =>
        text is null ? "" : text.Length <= length ? text : string.Concat(text.AsSpan(0, length), "…");
}
