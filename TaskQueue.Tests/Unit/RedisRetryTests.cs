using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Unit;

public sealed class RedisRetryTests
{
    [Fact]
    public async Task A_call_answered_TRYAGAIN_is_sent_again_after_a_pause_on_the_given_clock()
    {
        var time = new FakeTimeProvider();
        var calls = 0;

        var result = RedisRetry.OnTryAgainAsync(
            () => ++calls == 1
                ? Task.FromException<int>(new RedisServerException("TRYAGAIN Multiple keys request during rehashing of slot"))
                : Task.FromResult(calls),
            time);

        Assert.Equal(1, calls); // waiting on the fake clock: no second try yet
        Assert.False(result.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(2, await result);
    }

    [Fact]
    public async Task Any_other_error_goes_to_the_caller_at_once()
    {
        var calls = 0;

        var error = await Assert.ThrowsAsync<RedisServerException>(() => RedisRetry.OnTryAgainAsync<int>(
            () =>
            {
                calls++;
                throw new RedisServerException("ERR unknown command");
            },
            new FakeTimeProvider()));

        Assert.Equal(("ERR unknown command", 1), (error.Message, calls));
    }
}
