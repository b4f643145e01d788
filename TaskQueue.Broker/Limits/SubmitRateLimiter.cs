using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace TaskQueue.Broker.Limits;

/// <summary>
/// Submit rates per identity: one token bucket per caller (System.Threading.RateLimiting, what ASP.NET Core's
/// rate limiter is built on), a token per task, so a batch of 500 takes 500. Never queues: past the rate a
/// submit is refused at once with the time until enough tokens are back.
/// </summary>
internal sealed class SubmitRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _buckets;

    public SubmitRateLimiter(IOptions<LimitOptions> options)
    {
        var limits = options.Value;
        _buckets = PartitionedRateLimiter.Create<string, string>(identity =>
            RateLimitPartition.GetTokenBucketLimiter(identity, id => Bucket(limits.SubmitRateOf(id))));
    }

    /// <summary>Takes <paramref name="tasks"/> tokens from the identity's bucket; throws <see cref="LimitExceededException"/> when it lacks them.</summary>
    public void Acquire(string identity, int tasks)
    {
        RateLimitLease lease;
        try
        {
            lease = _buckets.AttemptAcquire(identity, tasks);
        }
        catch (ArgumentOutOfRangeException)
        {
            // More tasks than the bucket holds: no wait makes this call fit.
            throw new LimitExceededException($"A submission of {tasks} tasks exceeds the burst allowed to '{identity}'; send smaller batches.");
        }

        using (lease)
        {
            if (lease.IsAcquired)
            {
                return;
            }

            var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
            throw new LimitExceededException(
                string.Create(CultureInfo.InvariantCulture, $"'{identity}' is over its submit rate; retry in {retryAfter.TotalSeconds:0.###} s."),
                retryAfter);
        }
    }

    public void Dispose() => _buckets.Dispose();

    /// <summary>A bucket refilled about ten times a second (whole tokens at a time), so the rate holds exactly on average.</summary>
    private static TokenBucketRateLimiterOptions Bucket((int Rate, int Burst) limit)
    {
        var tokensPerPeriod = Math.Max(1, limit.Rate / 10);
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = limit.Burst,
            TokensPerPeriod = tokensPerPeriod,
            ReplenishmentPeriod = TimeSpan.FromSeconds((double)tokensPerPeriod / limit.Rate),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
    }
}
