extern alias worker;

using TaskQueue.Tests.Fakes;
using worker::TaskQueue.Worker.Runtime;

namespace TaskQueue.Tests.Unit.Worker;

public sealed class ReconnectBackoffTests
{
    [Fact]
    public void Each_failed_attempt_doubles_the_delay_until_the_maximum()
    {
        var backoff = new ReconnectBackoff(new FixedRandom(0.5));

        var delays = Enumerable.Range(0, 8).Select(_ => backoff.Next(welcomed: false).TotalMilliseconds).ToArray();

        Assert.Equal([100, 200, 400, 800, 1600, 2500, 2500, 2500], delays);
    }

    [Fact]
    public void A_welcomed_connection_starts_the_count_again()
    {
        var backoff = new ReconnectBackoff(new FixedRandom(0.5));
        for (var i = 0; i < 6; i++)
        {
            backoff.Next(welcomed: false);
        }

        Assert.Equal(TimeSpan.FromMilliseconds(50), backoff.Next(welcomed: true));
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Next(welcomed: false));
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.25, 200)]
    [InlineData(0.999, 799.2)]
    public void The_jitter_spreads_the_delay_over_zero_to_the_cap(double jitter, double milliseconds)
    {
        var backoff = new ReconnectBackoff(new FixedRandom(jitter));
        backoff.Next(welcomed: false);
        backoff.Next(welcomed: false);

        Assert.Equal(milliseconds, backoff.Next(welcomed: false).TotalMilliseconds, precision: 6);
    }

    [Fact]
    public void Failures_past_the_exponent_limit_stay_at_the_maximum_without_overflow()
    {
        Assert.Equal(ReconnectBackoff.Maximum, ReconnectBackoff.Delay(int.MaxValue, jitter: 1));
        Assert.Equal(ReconnectBackoff.Initial, ReconnectBackoff.Delay(-3, jitter: 1));
    }
}
