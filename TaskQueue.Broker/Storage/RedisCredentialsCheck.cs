using System.Net;
using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// At start, asks Redis whether it accepts the broker's credentials (the <c>password=</c> and <c>user=</c> of
/// <c>ConnectionStrings:redis</c>) on a connection of its own. A Redis that is not up yet is asked again until it answers;
/// a Redis that refuses the credentials (NOAUTH, WRONGPASS) gets one clear log line — what failed and which setting to
/// fix, never the secret — and the broker exits with code <see cref="ExitCode"/>.
/// </summary>
/// <remarks>
/// Why exit rather than stay up unhealthy: wrong credentials never heal by themselves (Redis being away does, and the
/// broker rides that out), and a broker that stays up answers every call with UNAVAILABLE while the reason sits among
/// the Redis client's retry lines. Exiting non-zero shows the fault where operators look — Aspire's dashboard marks the
/// resource as exited, compose's <c>restart: unless-stopped</c> and Kubernetes restart it with back-off — so fixing the
/// secret (or Redis's ACL) is all it takes to recover. It exits at once (<see cref="Environment.Exit"/>, not a graceful
/// stop): the shared multiplexer retries a refused handshake forever inside its first connect, so the host may still be
/// starting and has served nothing. The check starts when the host builds its hosted services, before any of them
/// connects. Only the start is checked; a password changed on Redis while the broker runs shows as failing Redis
/// calls, as any Redis outage does.
/// </remarks>
internal sealed partial class RedisCredentialsCheck : BackgroundService
{
    /// <summary>EX_CONFIG (sysexits.h): the broker's configuration is wrong.</summary>
    public const int ExitCode = 78;

    private static readonly TimeSpan s_retryDelay = TimeSpan.FromMilliseconds(500);

    private static readonly TimeSpan s_probeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Time for the console logger's queue to write the line before the process exits.</summary>
    private static readonly TimeSpan s_flushDelay = TimeSpan.FromSeconds(1);

    private readonly string? _connectionString;
    private readonly TimeProvider _time;
    private readonly ILogger<RedisCredentialsCheck> _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _checking;

    public RedisCredentialsCheck(IConfiguration configuration, TimeProvider time, ILogger<RedisCredentialsCheck> logger)
    {
        _connectionString = configuration.GetConnectionString(Extensions.BrokerExtensions.RedisConnectionName);
        _time = time;
        _logger = logger;
        // Started here, not in ExecuteAsync: the host builds every hosted service before it starts any, and building the
        // broker's services connects the shared multiplexer, which never returns while Redis refuses the credentials.
        _checking = Task.Run(() => CheckAsync(_stop.Token));
    }

    public override void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _checking.WaitAsync(stoppingToken);

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(_connectionString))
        {
            return; // options validation and the Redis client report a missing connection string
        }

        var options = ConfigurationOptions.Parse(_connectionString, ignoreUnknown: true);
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 0;
        options.ConnectTimeout = (int)s_probeTimeout.TotalMilliseconds;
        var sentCredentials = !string.IsNullOrEmpty(options.Password) || !string.IsNullOrEmpty(options.User);
        while (!cancellationToken.IsCancellationRequested)
        {
            var refusal = await ProbeAsync(options, sentCredentials, cancellationToken);
            if (refusal is null)
            {
                return; // Redis answered: the credentials are right.
            }

            if (refusal is not Refusal.NotYet)
            {
                LogRefused(_logger, Endpoints(options), Describe(refusal.Value));
                await Task.Delay(s_flushDelay, _time, CancellationToken.None);
                Environment.Exit(ExitCode);
            }

            await Task.Delay(s_retryDelay, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Why Redis refused, from the text of its error reply (Redis's own words, which never hold the secret).</summary>
    internal static Refusal? Classify(string? redisError) => redisError switch
    {
        null => null,
        _ when redisError.Contains("WRONGPASS", StringComparison.Ordinal)
               || redisError.Contains("invalid password", StringComparison.OrdinalIgnoreCase)
               || redisError.Contains("invalid username-password", StringComparison.OrdinalIgnoreCase) => Refusal.PasswordWrong,
        _ when redisError.Contains("without any password configured", StringComparison.OrdinalIgnoreCase)
               || redisError.Contains("no password is set", StringComparison.OrdinalIgnoreCase) => Refusal.PasswordUnexpected,
        _ when redisError.Contains("NOAUTH", StringComparison.Ordinal) => Refusal.PasswordMissing,
        _ => null,
    };

    internal static string Describe(Refusal refusal) => refusal switch
    {
        Refusal.PasswordMissing => "Redis requires a password and none was sent (NOAUTH): add password=... (and user=... for an ACL user) to ConnectionStrings:redis",
        Refusal.PasswordWrong => "the password or user was refused (NOAUTH/WRONGPASS): fix password=... / user=... in ConnectionStrings:redis",
        Refusal.PasswordUnexpected => "a password was sent but Redis has none set: remove password=... from ConnectionStrings:redis, or set requirepass (or an ACL user) on Redis",
        _ => "Redis is not answering yet",
    };

    /// <summary>One connection of its own and a PING: null when Redis answered, else why not (<see cref="Refusal.NotYet"/>: ask again later).</summary>
    private async Task<Refusal?> ProbeAsync(ConfigurationOptions options, bool sentCredentials, CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = await ConnectionMultiplexer.ConnectAsync(options.Clone()).WaitAsync(s_probeTimeout * 2, _time, cancellationToken);
            await probe.GetDatabase().PingAsync().WaitAsync(s_probeTimeout, _time, cancellationToken);
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Refusal.NotYet;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            return Refused(ex, sentCredentials) ?? Refusal.NotYet;
        }
    }

    /// <summary>
    /// An authentication refusal anywhere in the exception chain (the client wraps Redis's reply). A NOAUTH when the
    /// broker did send credentials means Redis refused them (the client reports a failed AUTH as the NOAUTH that follows).
    /// </summary>
    private static Refusal? Refused(Exception exception, bool sentCredentials)
    {
        Refusal? found = null;
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (Classify(e.Message) is { } refusal)
            {
                found = refusal;
                break;
            }

            if (e is RedisConnectionException { FailureType: ConnectionFailureType.AuthenticationFailure })
            {
                found = Refusal.PasswordMissing;
            }
        }

        return found == Refusal.PasswordMissing && sentCredentials ? Refusal.PasswordWrong : found;
    }

    private static string Endpoints(ConfigurationOptions options) => string.Join(", ", options.EndPoints.Select(endpoint => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port}",
        _ => endpoint.ToString(),
    }));

    [LoggerMessage(95, LogLevel.Critical, "Redis at {Endpoints} refused the broker's credentials: {Reason}. The broker exits (code 78)")]
    private static partial void LogRefused(ILogger logger, string endpoints, string reason);

    internal enum Refusal
    {
        NotYet,
        PasswordMissing,
        PasswordWrong,
        PasswordUnexpected,
    }
}
