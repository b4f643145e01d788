using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker;
using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Tests.Unit.Broker;

public sealed class SettleRetryTests
{
    private static SettleRetry Retry(int maxPending = 100) => new(Options.Create(new BrokerOptions
    {
        SettleRetryDelay = TimeSpan.FromMilliseconds(100),
        SettleRetryMaxDelay = TimeSpan.FromSeconds(2),
        SettleRetryMaxPending = maxPending,
    }));

    [Fact]
    public void An_unreachable_or_unserving_Redis_is_worth_another_try_and_a_script_error_is_not()
    {
        Assert.True(SettleRetry.IsTransient(new RedisConnectionException(ConnectionFailureType.SocketFailure, "gone")));
        Assert.True(SettleRetry.IsTransient(new RedisTimeoutException("frozen", CommandStatus.Sent)));
        Assert.True(SettleRetry.IsTransient(new TimeoutException()));
        Assert.True(SettleRetry.IsTransient(new RedisServerException("LOADING Redis is loading the dataset in memory")));
        Assert.True(SettleRetry.IsTransient(new RedisServerException("BUSY Redis is busy running a script")));
        Assert.False(SettleRetry.IsTransient(new RedisServerException("ERR user_script:12: attempt to compare nil with number")));
        Assert.False(SettleRetry.IsTransient(new InvalidOperationException("a bug")));
    }

    [Fact]
    public void The_delay_doubles_from_the_first_to_the_longest()
    {
        var retry = Retry();

        Assert.Equal(
            [100, 200, 400, 800, 1600, 2000, 2000],
            Enumerable.Range(1, 7).Select(tries => retry.DelayAfter(tries).TotalMilliseconds));
        Assert.Equal(TimeSpan.FromSeconds(2), retry.DelayAfter(int.MaxValue));
    }

    [Fact]
    public void At_most_the_cap_of_reports_wait_at_once_and_freed_places_are_taken_again()
    {
        var retry = Retry(maxPending: 10);

        Assert.Equal(6, retry.TryHold(6));
        Assert.Equal(4, retry.TryHold(6));
        Assert.Equal(0, retry.TryHold(1));
        retry.Free(3);
        Assert.Equal(3, retry.TryHold(5));
        Assert.Equal(10, retry.Pending);
    }
}
