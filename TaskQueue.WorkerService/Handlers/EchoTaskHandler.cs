using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>"echo": returns its payload.</summary>
internal sealed class EchoTaskHandler : ITaskHandler
{
    public string TaskType => "echo";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken) =>
        Task.FromResult(context.Payload);
}
