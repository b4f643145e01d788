using System.Threading.Channels;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Runtime;

/// <summary>Something for the single stream writer to send.</summary>
internal abstract record OutboundItem;

/// <summary>A final report (completed, failed, released); kept across reconnects until written.</summary>
internal sealed record OutcomeItem(WorkerMessage Message, TaskExecution? Execution) : OutboundItem;

/// <summary>The task has a progress report waiting; the writer sends the latest one.</summary>
internal sealed record ProgressItem(TaskExecution Execution) : OutboundItem;

/// <summary>A checkpoint the handler awaits the broker's answer to (dropped, and refused, once the attempt is over).</summary>
internal sealed record CheckpointItem(TaskExecution Execution, TaskCheckpoint Checkpoint) : OutboundItem;

internal sealed record HeartbeatItem : OutboundItem
{
    public static HeartbeatItem Instance { get; } = new();
}

internal sealed record DrainingItem : OutboundItem
{
    public static DrainingItem Instance { get; } = new();
}

/// <summary>Shutdown marker: everything queued before it has been written; complete the stream.</summary>
internal sealed record CloseItem(TaskCompletionSource Flushed) : OutboundItem;

/// <summary>
/// Everything the worker sends after Hello, for whichever connection is current. gRPC allows one writer
/// per stream, so one <see cref="OutboundWriter"/> loop per connection drains this queue. What a broken
/// connection may not have delivered waits in the <see cref="ResendBuffer"/>, not here.
/// </summary>
internal sealed class OutboundQueue
{
    private readonly Channel<OutboundItem> _channel =
        Channel.CreateUnbounded<OutboundItem>(new UnboundedChannelOptions { SingleReader = true });

    private int _heartbeatQueued;

    public ChannelReader<OutboundItem> Reader => _channel.Reader;

    public void Enqueue(OutboundItem item) => _channel.Writer.TryWrite(item);

    /// <summary>Queues a heartbeat unless one is already waiting (it lists the tasks when it is written).</summary>
    public void RequestHeartbeat()
    {
        if (Interlocked.Exchange(ref _heartbeatQueued, 1) == 0)
        {
            Enqueue(HeartbeatItem.Instance);
        }
    }

    public void HeartbeatTaken() => Volatile.Write(ref _heartbeatQueued, 0);
}
