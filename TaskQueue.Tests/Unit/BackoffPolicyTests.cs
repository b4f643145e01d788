using CsCheck;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class BackoffPolicyTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    [InlineData(5, 16)]
    [InlineData(6, 32)]
    [InlineData(7, 64)]
    public void Nominal_delays_double_from_the_initial_delay(int attempt, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), BackoffPolicy.Default.NominalDelay(attempt));

    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(64)]
    [InlineData(1100)]
    [InlineData(int.MaxValue)]
    public void Nominal_delays_stop_at_the_maximum_however_many_attempts_failed(int attempt) =>
        Assert.Equal(TimeSpan.FromSeconds(100), BackoffPolicy.Default.NominalDelay(attempt));

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void An_attempt_below_one_has_no_delay(int attempt) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => BackoffPolicy.Default.NominalDelay(attempt));

    [Fact]
    public void Nominal_delays_never_decrease_and_never_exceed_the_maximum()
    {
        var policy = new BackoffPolicy(TimeSpan.FromMilliseconds(250), 1.7, TimeSpan.FromSeconds(30), 0.3);
        var previous = TimeSpan.Zero;
        for (var attempt = 1; attempt <= 100; attempt++)
        {
            var delay = policy.NominalDelay(attempt);
            Assert.InRange(delay, previous, policy.Max);
            previous = delay;
        }

        Assert.Equal(policy.Max, previous);
    }

    [Fact]
    public void A_jittered_delay_lies_between_the_nominal_delay_less_the_jitter_and_the_nominal_delay() =>
        Gen.Select(Gen.Int[1, 40], Gen.Double[0, 0.999_999], Gen.Double[0, 1])
            .Sample((attempt, unit, jitter) =>
            {
                var policy = BackoffPolicy.Default with { Jitter = jitter };
                var nominal = policy.NominalDelay(attempt).TotalMilliseconds;
                var jittered = policy.JitteredDelay(attempt, unit).TotalMilliseconds;
                return jittered <= nominal && jittered >= Math.Floor(nominal * (1 - jitter));
            });

    [Fact]
    public void No_random_draw_means_no_jitter() =>
        Assert.Equal(TimeSpan.FromSeconds(8), BackoffPolicy.Default.JitteredDelay(4, 0));

    [Fact]
    public void The_largest_random_draw_takes_off_the_whole_jitter_fraction() =>
        Assert.Equal(TimeSpan.FromSeconds(6), BackoffPolicy.Default.JitteredDelay(4, 1));

    [Fact]
    public void Without_jitter_the_jittered_delay_is_the_nominal_delay() =>
        Assert.Equal(TimeSpan.FromSeconds(16), (BackoffPolicy.Default with { Jitter = 0 }).JitteredDelay(5, 0.9));

    [Fact]
    public void The_script_argument_lists_delays_up_to_and_including_the_first_capped_one() =>
        Assert.Equal("1000,2000,4000,8000,16000,32000,64000,100000", BackoffPolicy.Default.ToScriptArgument());

    [Fact]
    public void The_script_argument_ends_exactly_at_a_maximum_the_doubling_reaches() =>
        Assert.Equal(
            "30000,90000,270000,810000",
            new BackoffPolicy(TimeSpan.FromSeconds(30), 3, TimeSpan.FromSeconds(810), 0).ToScriptArgument());

    [Fact]
    public void The_script_argument_is_one_delay_when_the_initial_delay_is_the_maximum() =>
        Assert.Equal("5000", new BackoffPolicy(TimeSpan.FromSeconds(5), 2, TimeSpan.FromSeconds(5), 0).ToScriptArgument());

    [Fact]
    public void The_script_argument_is_bounded_when_the_delays_never_reach_the_maximum()
    {
        var delays = new BackoffPolicy(TimeSpan.FromSeconds(1), 1, TimeSpan.FromSeconds(10), 0).ToScriptArgument().Split(',');

        Assert.Equal(64, delays.Length);
        Assert.All(delays, d => Assert.Equal("1000", d));
    }

    [Fact]
    public void Every_entry_of_the_script_argument_is_the_nominal_delay_of_its_attempt()
    {
        var policy = new BackoffPolicy(TimeSpan.FromMilliseconds(150), 2.5, TimeSpan.FromMinutes(5), 0.1);
        var delays = policy.ToScriptArgument().Split(',').Select(long.Parse).ToArray();

        for (var i = 0; i < delays.Length; i++)
        {
            Assert.Equal((long)policy.NominalDelay(i + 1).TotalMilliseconds, delays[i]);
        }

        Assert.Equal((long)policy.Max.TotalMilliseconds, delays[^1]);
        Assert.All(delays[..^1], d => Assert.True(d < delays[^1]));
    }

    [Theory]
    [InlineData(0, 1.0, 0, 0.0)]
    [InlineData(1000, 2.0, 1000, 0.0)]
    [InlineData(1000, 1.0, 100_000, 1.0)]
    [InlineData(1000, 2.0, 100_000, 0.25)]
    public void Sound_settings_validate(int initialMs, double multiplier, int maxMs, double jitter) =>
        new BackoffPolicy(TimeSpan.FromMilliseconds(initialMs), multiplier, TimeSpan.FromMilliseconds(maxMs), jitter).Validate();

    [Theory]
    [InlineData(-1, 2.0, 1000, 0.0)]
    [InlineData(2000, 2.0, 1000, 0.0)]
    [InlineData(1000, 0.99, 100_000, 0.0)]
    [InlineData(1000, 0.0, 100_000, 0.0)]
    [InlineData(1000, -2.0, 100_000, 0.0)]
    [InlineData(1000, 2.0, 100_000, -0.01)]
    [InlineData(1000, 2.0, 100_000, 1.01)]
    public void Unsound_settings_are_rejected(int initialMs, double multiplier, int maxMs, double jitter) =>
        Assert.Throws<ArgumentException>(() =>
            new BackoffPolicy(TimeSpan.FromMilliseconds(initialMs), multiplier, TimeSpan.FromMilliseconds(maxMs), jitter).Validate());

    [Theory]
    [InlineData(double.NaN, 0.25)]
    [InlineData(double.PositiveInfinity, 0.25)]
    [InlineData(2.0, double.NaN)]
    public void Not_a_number_or_infinity_is_rejected_as_a_multiplier_or_jitter(double multiplier, double jitter) =>
        Assert.Throws<ArgumentException>(() =>
            new BackoffPolicy(TimeSpan.FromSeconds(1), multiplier, TimeSpan.FromSeconds(100), jitter).Validate());
}
