using TaskQueue.Worker.Handlers;
using TaskQueue.WorkerService.Diagnostics;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "crash": kills the worker process on the spot, to exercise lease expiry and redelivery.
/// Environment.Exit would run the graceful drain (the host hooks process exit), so this fails fast instead.
/// </summary>
internal sealed class CrashTaskHandler(ILogger<CrashTaskHandler> logger) : ITaskHandler
{
    public string TaskType => "crash";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        Log.CrashRequested(logger, context.TaskId);
        // The logger writes on a background thread that dies with the process: say it directly too.
        Console.Error.WriteLine($"crash task {context.TaskId}: terminating the worker process");
        Console.Error.Flush();
        Environment.FailFast($"The 'crash' task {context.TaskId} terminated the worker process on purpose.");
        return Task.FromResult(TaskResults.Empty);
    }
}
