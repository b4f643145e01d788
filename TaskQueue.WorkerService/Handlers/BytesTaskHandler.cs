using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>"bytes": returns a result of the payload's number of bytes (UTF-8 text), so a small task can produce a large result.</summary>
internal sealed class BytesTaskHandler : ITaskHandler
{
    /// <summary>The largest result it makes: far past any broker's limit, still a bounded allocation.</summary>
    public const long MaxBytes = 64 * 1024 * 1024;

    public string TaskType => "bytes";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var count = PayloadParsing.ReadNonNegativeInteger(context, "a number of bytes");
        if (count > MaxBytes)
        {
            throw new NonRetryableTaskException($"The 'bytes' task makes at most {MaxBytes} bytes.");
        }

        var result = new byte[count];
        result.AsSpan().Fill((byte)'x');
        return Task.FromResult<ReadOnlyMemory<byte>>(result);
    }
}
