namespace TaskQueue.Dashboard.Brokers;

/// <summary>A task's trace in the Aspire dashboard: &lt;dashboard&gt;/traces/detail/&lt;trace id of its traceparent&gt;.</summary>
public static class TraceLinks
{
    /// <summary>The link, or null without a dashboard address or a valid W3C traceparent ("00-&lt;32 hex&gt;-&lt;16 hex&gt;-&lt;2 hex&gt;").</summary>
    public static string? For(Uri? aspire, string? traceParent)
    {
        if (aspire is null || traceParent is null)
        {
            return null;
        }

        var parts = traceParent.Split('-');
        if (parts.Length < 4 || parts[1].Length != 32 || !parts[1].All(char.IsAsciiHexDigitLower) || parts[1].All(c => c == '0'))
        {
            return null;
        }

        return new Uri(aspire, "/traces/detail/" + parts[1]).ToString();
    }
}
