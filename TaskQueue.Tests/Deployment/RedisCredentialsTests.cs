using TaskQueue.Broker.Storage;
using TaskQueue.Tests.Infrastructure;

namespace TaskQueue.Tests.Deployment;

/// <summary>
/// A broker deployed against a Redis that requires a password (as the AppHost's and compose's Redis do): with the
/// password in ConnectionStrings:redis it serves; without it, or with a wrong one, it says so in one line and exits.
/// </summary>
public sealed class RedisCredentialsTests
{
    private const string Password = "s3cret-redis-password";

    [Fact]
    public async Task A_broker_without_the_redis_password_says_which_setting_to_fix_and_exits_with_a_config_error()
    {
        await using var redis = await RedisServerProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence, password: Password);
        await using var broker = StartBroker(redis.Endpoint);

        Assert.True(await broker.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the broker kept running:\n{broker.RecentOutput}");
        Assert.Equal(RedisCredentialsCheck.ExitCode, broker.ExitCode);
        var refusal = Assert.Single(broker.RecentOutput.Split('\n'), line => line.Contains("refused the broker's credentials", StringComparison.Ordinal));
        Assert.Contains("NOAUTH", refusal, StringComparison.Ordinal);
        Assert.Contains("ConnectionStrings:redis", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_with_a_wrong_redis_password_says_so_and_never_prints_the_password_it_was_given()
    {
        const string wrong = "not-the-password-at-all";
        await using var redis = await RedisServerProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence, password: Password);
        await using var broker = StartBroker($"{redis.Endpoint},password={wrong}");

        Assert.True(await broker.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"the broker kept running:\n{broker.RecentOutput}");
        Assert.Equal(RedisCredentialsCheck.ExitCode, broker.ExitCode);
        var refusal = Assert.Single(broker.RecentOutput.Split('\n'), line => line.Contains("refused the broker's credentials", StringComparison.Ordinal));
        Assert.Contains("password or user was refused", refusal, StringComparison.Ordinal);
        Assert.DoesNotContain(wrong, broker.RecentOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_with_the_redis_password_serves()
    {
        await using var redis = await RedisServerProcess.StartAsync(extraArguments: RedisServerSettings.NoPersistence, password: Password);
        var httpPort = LoopbackPort.Free();
        await using var broker = StartBroker(redis.ConnectionString, httpPort);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.TrueAsync(
            async () =>
            {
                try
                {
                    return (await http.GetAsync(new Uri($"http://127.0.0.1:{httpPort}/health"))).IsSuccessStatusCode;
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    return false;
                }
            },
            TimeSpan.FromSeconds(60),
            () => $"the broker did not become healthy:\n{broker.RecentOutput}");
        Assert.False(broker.HasExited);
        Assert.DoesNotContain("refused the broker's credentials", broker.RecentOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("NOAUTH Authentication required.", "PasswordMissing")]
    [InlineData("WRONGPASS invalid username-password pair or user is disabled.", "PasswordWrong")]
    [InlineData("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", "PasswordUnexpected")]
    public void Redis_error_replies_are_told_apart(string reply, string expected) =>
        Assert.Equal(expected, RedisCredentialsCheck.Classify(reply)?.ToString());

    [Fact]
    public void Other_redis_errors_are_no_credentials_refusal() =>
        Assert.Null(RedisCredentialsCheck.Classify("LOADING Redis is loading the dataset in memory"));

    /// <summary>
    /// A broker on free ports over <paramref name="redisConnectionString"/>, anonymous (this is about Redis, not callers),
    /// without the Redis client's own log lines (hundreds a second while it retries a refused handshake: they would push
    /// the line under test out of the remembered output).
    /// </summary>
    private static ChildProcess StartBroker(string redisConnectionString, int? httpPort = null) =>
        ChildProcess.StartService("TaskQueue.Broker", "broker", new Dictionary<string, string>
        {
            ["ConnectionStrings__redis"] = redisConnectionString,
            ["Kestrel__Endpoints__http__Url"] = $"http://127.0.0.1:{httpPort ?? LoopbackPort.Free()}",
            ["Kestrel__Endpoints__grpc__Url"] = $"http://127.0.0.1:{LoopbackPort.Free()}",
            ["TaskQueue__Security__AllowAnonymous"] = "true",
            ["Logging__LogLevel__StackExchange.Redis"] = "None",
        });
}
