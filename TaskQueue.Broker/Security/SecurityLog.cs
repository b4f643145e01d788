namespace TaskQueue.Broker.Security;

/// <summary>The security log lines (event ids 900–949). Never a key, a token or a hash.</summary>
internal static partial class SecurityLog
{
    [LoggerMessage(900, LogLevel.Warning, "Anonymous access is allowed (TaskQueue:Security:AllowAnonymous=true): callers without credentials get every scope")]
    public static partial void AnonymousAllowed(ILogger logger);

    [LoggerMessage(901, LogLevel.Information, "Security: {ApiKeys} API keys, JWT {Jwt}, /metrics access {MetricsAccess}")]
    public static partial void CredentialsConfigured(ILogger logger, int apiKeys, bool jwt, MetricsAccess metricsAccess);

    [LoggerMessage(902, LogLevel.Information, "API keys reloaded: {Count} keys, {Removed} removed")]
    public static partial void KeysReloaded(ILogger logger, int count, int removed);

    [LoggerMessage(903, LogLevel.Error, "The reloaded API keys are not valid, the {Count} keys in use stay: {Problem}")]
    public static partial void KeysReloadRejected(ILogger logger, string problem, int count);

    [LoggerMessage(904, LogLevel.Warning, "Refused {Identity}: {Action} on {Queues} is not granted ({Method})")]
    public static partial void PermissionDenied(ILogger logger, string identity, string action, string queues, string method);

    [LoggerMessage(905, LogLevel.Warning, "Closed the stream of worker {WorkerId} ({Identity}): {Reason}")]
    public static partial void StreamRevoked(ILogger logger, string workerId, string identity, string reason);

    [LoggerMessage(906, LogLevel.Warning, "Refused worker {WorkerId} for {Identity}: the worker id belongs to another identity")]
    public static partial void WorkerIdTaken(ILogger logger, string workerId, string identity);
}
