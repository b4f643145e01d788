using System.Diagnostics;

namespace TaskQueue.Client.Internal;

internal static class TraceContext
{
    /// <summary>
    /// W3C traceparent of the send span, or of the caller's current activity when nobody listens to the
    /// client's source, so the task still joins the caller's trace. Empty when there is neither.
    /// </summary>
    public static string FormatTraceParent(Activity? activity, out string traceState)
    {
        var source = activity ?? Activity.Current;
        traceState = string.Empty;
        if (source is null || source.IdFormat != ActivityIdFormat.W3C)
        {
            return string.Empty;
        }

        traceState = source.TraceStateString ?? string.Empty;
        var flags = (source.ActivityTraceFlags & ActivityTraceFlags.Recorded) != 0 ? "01" : "00";
        return $"00-{source.TraceId.ToHexString()}-{source.SpanId.ToHexString()}-{flags}";
    }
}
