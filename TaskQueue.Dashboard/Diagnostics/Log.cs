namespace TaskQueue.Dashboard.Diagnostics;

/// <summary>The dashboard's log lines (event ids 1000-1099). Never a payload, a result or a key.</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Operator {Identity} signed in")]
    public static partial void SignedIn(ILogger logger, string identity);

    [LoggerMessage(1001, LogLevel.Warning, "A sign-in was refused by the broker: {Status}")]
    public static partial void SignInRefused(ILogger logger, string status);

    [LoggerMessage(1002, LogLevel.Information, "Operator {Identity} signed out")]
    public static partial void SignedOut(ILogger logger, string identity);

    [LoggerMessage(1003, LogLevel.Warning, "The broker refused {Identity}'s {Action} on {Queue}: {Status}")]
    public static partial void ActionRefused(ILogger logger, string identity, string action, string queue, string status);

    [LoggerMessage(1004, LogLevel.Information, "Operator {Identity}: {Action} on {Queue} ({Target}): {Count}")]
    public static partial void ActionDone(ILogger logger, string identity, string action, string queue, string target, long count);

    [LoggerMessage(1005, LogLevel.Warning, "A broker call failed: {Status}")]
    public static partial void BrokerCallFailed(ILogger logger, string status);
}
