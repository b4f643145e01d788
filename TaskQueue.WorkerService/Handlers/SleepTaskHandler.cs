using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>"sleep": waits for the payload's number of milliseconds (UTF-8 text), honouring cancellation.</summary>
internal sealed class SleepTaskHandler(TimeProvider timeProvider) : ITaskHandler
{
    public string TaskType => "sleep";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var milliseconds = PayloadParsing.ReadNonNegativeInteger(context, "milliseconds");
        await Task.Delay(TimeSpan.FromMilliseconds(milliseconds), timeProvider, cancellationToken);
        return TaskResults.FromText($"slept {milliseconds} ms");
    }
}
