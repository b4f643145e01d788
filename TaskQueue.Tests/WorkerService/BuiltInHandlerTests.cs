using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using TaskQueue.Worker.Handlers;
using TaskQueue.WorkerService.Handlers;

namespace TaskQueue.Tests.WorkerService;

public sealed class BuiltInHandlerTests
{
    [Fact]
    public async Task Echo_returns_its_payload()
    {
        var result = await new EchoTaskHandler().HandleAsync(Context("echo", "ping"), CancellationToken.None);

        Assert.Equal("ping", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task Noop_returns_the_time_it_started_in_unix_microseconds()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_123).AddTicks(4560));

        var result = await new NoopTaskHandler(time).HandleAsync(Context("noop", "ignored"), CancellationToken.None);

        Assert.Equal("1700000000123456", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task Cpu_returns_the_hash_of_the_payload_hashed_again_for_each_iteration()
    {
        var expected = SHA256.HashData("3"u8);
        for (var i = 0; i < 3; i++)
        {
            expected = SHA256.HashData(expected);
        }

        var result = await new CpuTaskHandler().HandleAsync(Context("cpu", "3"), CancellationToken.None);

        Assert.Equal(Convert.ToHexStringLower(expected), Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task Fail_throws_a_retryable_exception_until_the_attempt_passes_its_payload()
    {
        var handler = new FailTaskHandler();

        await Assert.ThrowsAsync<InvalidOperationException>(() => handler.HandleAsync(Context("fail", "2", attempt: 2), CancellationToken.None));
        var result = await handler.HandleAsync(Context("fail", "2", attempt: 3), CancellationToken.None);

        Assert.Equal("succeeded on attempt 3", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task Sleep_waits_for_its_payload_in_milliseconds_and_honours_cancellation()
    {
        var time = new FakeTimeProvider();
        var handler = new SleepTaskHandler(time);
        using var cancellation = new CancellationTokenSource();

        var sleeping = handler.HandleAsync(Context("sleep", "1000"), CancellationToken.None);
        var cancelled = handler.HandleAsync(Context("sleep", "1000"), cancellation.Token);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(sleeping.IsCompleted);
        Assert.False(cancelled.IsCompleted);
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(5)));
        time.Advance(TimeSpan.FromMilliseconds(1));

        var result = await sleeping.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("slept 1000 ms", Encoding.UTF8.GetString(result.Span));
    }

    [Fact]
    public async Task A_payload_that_is_not_a_number_fails_without_retry()
    {
        await Assert.ThrowsAsync<NonRetryableTaskException>(
            () => new SleepTaskHandler(TimeProvider.System).HandleAsync(Context("sleep", "soon"), CancellationToken.None));
    }

    [Fact]
    public async Task Spin_ignores_its_cancellation_token_until_its_time_is_up_and_later_attempts_return_at_once()
    {
        var handler = new SpinTaskHandler(TimeProvider.System);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var spun = await handler.HandleAsync(Context("spin", "30,1"), cancelled.Token);
        var retried = await handler.HandleAsync(Context("spin", "60000,1", attempt: 2), CancellationToken.None);

        Assert.Equal("spun 30 ms on attempt 1", Encoding.UTF8.GetString(spun.Span));
        Assert.Equal("attempt 2 did not spin", Encoding.UTF8.GetString(retried.Span));
        await Assert.ThrowsAsync<NonRetryableTaskException>(() => handler.HandleAsync(Context("spin", "soon"), CancellationToken.None));
    }

    [Fact]
    public async Task Bytes_returns_as_many_bytes_as_its_payload_says()
    {
        var result = await new BytesTaskHandler().HandleAsync(Context("bytes", "5000000"), CancellationToken.None);

        Assert.Equal(5_000_000, result.Length);
        await Assert.ThrowsAsync<NonRetryableTaskException>(() => new BytesTaskHandler().HandleAsync(Context("bytes", "-1"), CancellationToken.None));
    }

    private static TaskContext Context(string type, string payload, int attempt = 1) =>
        new("task-1", "default", type, Encoding.UTF8.GetBytes(payload), attempt, maxAttempts: 5);
}
