namespace TaskQueue.WorkerService.Diagnostics;

internal static partial class Log
{
    // The library's event ids end below 30; this one kept its number when the handler moved here.
    [LoggerMessage(30, LogLevel.Critical, "Task {TaskId} asked the worker to crash: terminating the process")]
    public static partial void CrashRequested(ILogger logger, string taskId);
}
