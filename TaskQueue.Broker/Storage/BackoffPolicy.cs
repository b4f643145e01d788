namespace TaskQueue.Broker.Storage;

/// <summary>
/// Exponential backoff between attempts: <c>Initial × Multiplier^(attempt−1)</c>, capped at <c>Max</c>,
/// then shortened by up to <c>Jitter</c> of itself at random so retries of a failed batch spread out.
/// The scripts receive the nominal delays as a list (<see cref="ToScriptArgument"/>) and apply the jitter.
/// </summary>
public sealed record BackoffPolicy(TimeSpan Initial, double Multiplier, TimeSpan Max, double Jitter)
{
    /// <summary>Temporal's defaults: 1 s doubling, capped at 100 s; up to a quarter taken off at random.</summary>
    public static BackoffPolicy Default { get; } = new(TimeSpan.FromSeconds(1), 2, TimeSpan.FromSeconds(100), 0.25);

    /// <summary>The delay before the attempt after failed attempt <paramref name="attempt"/> (1-based), without jitter.</summary>
    public TimeSpan NominalDelay(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        var ms = Initial.TotalMilliseconds * Math.Pow(Multiplier, attempt - 1);
        return ms >= Max.TotalMilliseconds || double.IsInfinity(ms) ? Max : TimeSpan.FromMilliseconds(Math.Round(ms));
    }

    /// <summary>The delay with jitter applied; <paramref name="unitRandom"/> is uniform in [0, 1).</summary>
    public TimeSpan JitteredDelay(int attempt, double unitRandom) =>
        TimeSpan.FromMilliseconds(Math.Floor(NominalDelay(attempt).TotalMilliseconds * (1 - (Jitter * unitRandom))));

    /// <summary>Nominal delays in ms for attempts 1, 2, ... up to the first that reaches the cap (it repeats after).</summary>
    public string ToScriptArgument()
    {
        var delays = new List<long>();
        for (var attempt = 1; attempt <= 64; attempt++)
        {
            var delay = NominalDelay(attempt);
            delays.Add((long)delay.TotalMilliseconds);
            if (delay >= Max)
            {
                break;
            }
        }

        return string.Join(',', delays);
    }

    public void Validate()
    {
        // Written so that NaN fails every check (comparisons with NaN are false).
        if (Initial < TimeSpan.Zero || Max < Initial || !(Multiplier >= 1) || double.IsInfinity(Multiplier) || !(Jitter is >= 0 and <= 1))
        {
            throw new ArgumentException(
                "Backoff needs 0 <= Initial <= Max, Multiplier >= 1 and Jitter between 0 and 1.");
        }
    }
}
