using Microsoft.Extensions.Options;
using TaskQueue.Broker.Limits;

namespace TaskQueue.Tests.Limits;

public sealed class SubmitRateLimiterTests
{
    private static SubmitRateLimiter Limiter(int rate, int burst, params IdentitySubmitRate[] identities) =>
        new(Options.Create(new LimitOptions { SubmitRate = rate, SubmitBurst = burst, Identities = [.. identities] }));

    [Fact]
    public void A_batch_takes_a_token_per_task_and_the_refusal_says_when_to_retry()
    {
        using var limiter = Limiter(rate: 10, burst: 500);
        limiter.Acquire("key:load", 500);

        var refused = Assert.Throws<LimitExceededException>(() => limiter.Acquire("key:load", 1));

        Assert.NotNull(refused.RetryAfter);
        Assert.InRange(refused.RetryAfter!.Value, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(2));
        Assert.Contains("'key:load' is over its submit rate; retry in ", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_identity_has_its_own_bucket()
    {
        using var limiter = Limiter(rate: 1, burst: 3);
        limiter.Acquire("key:a", 3);

        limiter.Acquire("key:b", 3);
        limiter.Acquire("anonymous", 3);
        Assert.Throws<LimitExceededException>(() => limiter.Acquire("key:a", 1));
    }

    [Fact]
    public void A_configured_identity_gets_its_own_rate_and_burst()
    {
        using var limiter = Limiter(rate: 1, burst: 2, new IdentitySubmitRate { Identity = "key:bulk", SubmitBurst = 1000 });

        limiter.Acquire("key:bulk", 1000);
        Assert.Throws<LimitExceededException>(() => limiter.Acquire("key:other", 3));
    }

    [Fact]
    public void A_submission_larger_than_the_burst_is_refused_without_a_retry_time()
    {
        using var limiter = Limiter(rate: 100, burst: 10);

        var refused = Assert.Throws<LimitExceededException>(() => limiter.Acquire("key:a", 11));

        Assert.Null(refused.RetryAfter);
        Assert.Contains("exceeds the burst", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_defaults_admit_a_steady_stream_of_full_batches()
    {
        using var limiter = Limiter(new LimitOptions().SubmitRate, new LimitOptions().SubmitBurst);

        // 100 batches of 1,000 at once: the benchmark's heaviest burst is well inside the default bucket.
        for (var i = 0; i < 100; i++)
        {
            limiter.Acquire("key:bench", 1000);
        }
    }
}
