namespace TaskQueue.Worker.Handlers.BuiltIn;

/// <summary>"echo": returns its payload.</summary>
public sealed class EchoTaskHandler : ITaskHandler
{
    public string TaskType => "echo";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken) =>
        Task.FromResult(context.Payload);
}
