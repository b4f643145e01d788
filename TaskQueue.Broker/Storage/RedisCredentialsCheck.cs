using System.Net;
using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// At start, asks Redis whether it accepts the broker's credentials (the <c>password=</c> and <c>user=</c> of
/// <c>ConnectionStrings:redis</c>). A Redis that is not up yet is waited for, as everywhere else in the broker; a Redis
/// that refuses the credentials (NOAUTH, WRONGPASS, or a password Redis does not expect) gets one clear log line —
/// what failed and which setting to fix, never the secret — and the broker stops with exit code
/// <see cref="ExitCode"/>.
/// </summary>
/// <remarks>
/// Why stop rather than stay up unhealthy: wrong credentials never heal by themselves (Redis being away does, and
/// the broker rides that out), and a broker that stays up answers every call with UNAVAILABLE while the reason sits
/// in a log nobody reads. Exiting non-zero shows the fault where operators look — Aspire's dashboard marks the
/// resource as exited, compose's <c>restart: unless-stopped</c> and Kubernetes restart it with back-off, so fixing the
/// secret (or Redis's ACL) is enough to recover. Only the first successful answer is checked; a password changed on
/// Redis while the broker runs shows as failing Redis calls, as any Redis outage does.
/// </remarks>
internal sealed partial class RedisCredentialsCheck(
    IConnectionMultiplexer redis, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<RedisCredentialsCheck> logger) : BackgroundService
{
    /// <summary>EX_CONFIG (sysexits.h): the broker's configuration is wrong.</summary>
    public const int ExitCode = 78;

    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan s_pingTimeout = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var refusal = await AskAsync(stoppingToken);
            if (refusal is null)
            {
                return; // Redis answered: the credentials are right.
            }

            if (refusal is not Refusal.NotYet)
            {
                LogRefused(logger, Endpoints(), Describe(refusal.Value));
                Environment.ExitCode = ExitCode;
                lifetime.StopApplication();
                return;
            }

            await Task.Delay(s_retryDelay, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Why Redis refused, from the text of its error reply (Redis's own words, which never hold the secret).</summary>
    internal static Refusal? Classify(string? redisError) => redisError switch
    {
        null => null,
        _ when redisError.Contains("NOAUTH", StringComparison.Ordinal) => Refusal.PasswordMissing,
        _ when redisError.Contains("WRONGPASS", StringComparison.Ordinal)
               || redisError.Contains("invalid password", StringComparison.OrdinalIgnoreCase)
               || redisError.Contains("invalid username-password", StringComparison.OrdinalIgnoreCase) => Refusal.PasswordWrong,
        _ when redisError.Contains("without any password configured", StringComparison.OrdinalIgnoreCase)
               || redisError.Contains("no password is set", StringComparison.OrdinalIgnoreCase) => Refusal.PasswordUnexpected,
        _ => null,
    };

    internal static string Describe(Refusal refusal) => refusal switch
    {
        Refusal.PasswordMissing => "Redis requires a password and the broker sent none (NOAUTH): add password=... (and user=... for an ACL user) to ConnectionStrings:redis",
        Refusal.PasswordWrong => "Redis refused the broker's user or password (WRONGPASS): fix password=... / user=... in ConnectionStrings:redis",
        Refusal.PasswordUnexpected => "the broker sent a password but Redis has none set: remove password=... from ConnectionStrings:redis, or set requirepass (or an ACL user) on Redis",
        Refusal.Authentication => "Redis refused the broker's credentials: check password=... / user=... in ConnectionStrings:redis",
        _ => "Redis is not answering yet",
    };

    /// <summary>One PING: null when it was answered, else why not (<see cref="Refusal.NotYet"/>: ask again later).</summary>
    private async Task<Refusal?> AskAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.GetDatabase().PingAsync().WaitAsync(s_pingTimeout, time, cancellationToken);
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Refusal.NotYet;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Refused(ex) ?? Refusal.NotYet;
        }
    }

    /// <summary>An authentication refusal anywhere in the exception chain (the multiplexer wraps Redis's reply).</summary>
    private static Refusal? Refused(Exception exception)
    {
        Refusal? found = null;
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (Classify(e.Message) is { } refusal)
            {
                return refusal;
            }

            if (e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure })
            {
                found = Refusal.Authentication;
            }
        }

        return found;
    }

    private string Endpoints() => string.Join(", ", redis.GetEndPoints().Select(endpoint => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString(),
    }));

    [LoggerMessage(95, LogLevel.Critical, "Redis at {Endpoints} refused the broker: {Reason}. The broker stops")]
    private static partial void LogRefused(ILogger logger, string endpoints, string reason);

    internal enum Refusal
    {
        NotYet,
        PasswordMissing,
        PasswordWrong,
        PasswordUnexpected,
        Authentication,
    }
}
