namespace TaskQueue.Worker.Runtime;

/// <summary>
/// The delay before the next connection attempt: exponential in the attempts that failed before a Welcome,
/// with full jitter, so a restarted broker is not hit by every worker at once. A welcomed connection starts
/// the count again.
/// </summary>
internal sealed class ReconnectBackoff(Random random)
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(5);

    private int _failures;

    public ReconnectBackoff()
        : this(Random.Shared)
    {
    }

    /// <summary>Counts the connection that just ended (welcomed or not) and returns how long to wait before the next.</summary>
    public TimeSpan Next(bool welcomed)
    {
        _failures = welcomed ? 0 : _failures + 1;
        return Delay(_failures, random.NextDouble());
    }

    /// <summary>min(Maximum, Initial * 2^failures) scaled by <paramref name="jitter"/> in [0, 1).</summary>
    public static TimeSpan Delay(int failures, double jitter)
    {
        var exponent = Math.Clamp(failures, 0, 16);
        var cap = Math.Min(Maximum.TotalMilliseconds, Initial.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(cap * jitter);
    }
}
