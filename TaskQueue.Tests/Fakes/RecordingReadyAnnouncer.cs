using TaskQueue.Broker.Dispatch;

namespace TaskQueue.Tests.Fakes;

/// <summary>Records every queue announced ready, in order.</summary>
internal sealed class RecordingReadyAnnouncer : IReadyAnnouncer
{
    private readonly Lock _lock = new();
    private readonly List<string> _queues = [];

    public IReadOnlyList<string> Queues
    {
        get
        {
            lock (_lock)
            {
                return [.. _queues];
            }
        }
    }

    public void PublishReady(string queue)
    {
        lock (_lock)
        {
            _queues.Add(queue);
        }
    }
}
