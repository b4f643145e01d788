namespace TaskQueue.Worker.Runtime;

/// <summary>Exponential backoff with full jitter, so a restarted broker is not hit by every worker at once.</summary>
internal static class ReconnectBackoff
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(5);

    /// <summary>A random delay in [0, min(Maximum, Initial * 2^failures)).</summary>
    public static TimeSpan Delay(int failures)
    {
        var exponent = Math.Clamp(failures, 0, 16);
        var cap = Math.Min(Maximum.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(cap * Random.Shared.NextDouble());
    }
}
