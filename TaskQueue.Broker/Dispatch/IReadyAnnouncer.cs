namespace TaskQueue.Broker.Dispatch;

/// <summary>
/// Tells every broker's dispatcher (this one's directly) that a queue has work ready: implemented by
/// <see cref="Services.ClusterEvents"/>; the seam the submit batcher's tests fake.
/// </summary>
internal interface IReadyAnnouncer
{
    void PublishReady(string queue);
}
