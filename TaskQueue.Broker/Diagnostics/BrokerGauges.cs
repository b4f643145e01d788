using System.Diagnostics.Metrics;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Diagnostics;

/// <summary>
/// Observable gauges on the broker's meter: queue depth by state, paused queues, workers by status, and slots. A gauge
/// callback must not block, so it reports the latest snapshot and starts reading a fresh one when that
/// is over a second old: Redis is read only as often as someone collects.
/// </summary>
internal sealed class BrokerGauges(
    IMeterFactory meterFactory, SystemSnapshotReader reader, TimeProvider time, ILogger<BrokerGauges> logger) : IHostedService
{
    private static readonly TimeSpan s_maxAge = TimeSpan.FromSeconds(1);
    private SystemSnapshot? _latest;
    private int _refreshing;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var meter = meterFactory.Create(BrokerTelemetry.Name);
        meter.CreateObservableGauge("taskqueue.queue.depth", ObserveDepth, "{task}",
            "Tasks in a queue by state: ready, scheduled (delayed or backing off), leased (running), dead_lettered.");
        meter.CreateObservableGauge("taskqueue.queue.paused", ObservePaused, "1",
            "1 while a queue is paused (flow control: it accepts submits and dispatches nothing), else 0.");
        meter.CreateObservableGauge("taskqueue.workers", ObserveWorkers, "{worker}", "Connected workers by status: idle, busy, quarantined.");
        meter.CreateObservableGauge("taskqueue.worker.slots", ObserveSlots, "{slot}", "Execution slots of the connected workers: busy or free.");
        meter.CreateObservableGauge("taskqueue.worker.slots.utilization", ObserveUtilization, "1", "Busy slots over all slots of the connected workers.");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private IEnumerable<Measurement<long>> ObserveDepth()
    {
        foreach (var queue in Current()?.Queues ?? [])
        {
            var tag = BrokerTelemetry.QueueTag(queue.Queue);
            yield return new Measurement<long>(queue.Ready, tag, new("taskqueue.task.state", "ready"));
            yield return new Measurement<long>(queue.Scheduled, tag, new("taskqueue.task.state", "scheduled"));
            yield return new Measurement<long>(queue.Leased, tag, new("taskqueue.task.state", "leased"));
            yield return new Measurement<long>(queue.DeadLettered, tag, new("taskqueue.task.state", "dead_lettered"));
        }
    }

    private IEnumerable<Measurement<long>> ObservePaused()
    {
        foreach (var queue in Current()?.Queues ?? [])
        {
            yield return new Measurement<long>(queue.Paused ? 1 : 0, BrokerTelemetry.QueueTag(queue.Queue));
        }
    }

    private IEnumerable<Measurement<long>> ObserveWorkers()
    {
        if (Current() is not { } snapshot)
        {
            yield break;
        }

        foreach (var status in WorkerStatuses.Connected)
        {
            yield return new Measurement<long>(snapshot.Workers.Count(w => w.Status == status), new KeyValuePair<string, object?>("taskqueue.worker.status", status));
        }
    }

    private IEnumerable<Measurement<long>> ObserveSlots()
    {
        if (Current() is not { } snapshot)
        {
            yield break;
        }

        yield return new Measurement<long>(snapshot.BusySlots, new KeyValuePair<string, object?>("taskqueue.slot.state", "busy"));
        yield return new Measurement<long>(snapshot.Slots - snapshot.BusySlots, new KeyValuePair<string, object?>("taskqueue.slot.state", "free"));
    }

    private IEnumerable<Measurement<double>> ObserveUtilization()
    {
        if (Current() is { Slots: > 0 } snapshot)
        {
            yield return new Measurement<double>((double)snapshot.BusySlots / snapshot.Slots);
        }
    }

    private SystemSnapshot? Current()
    {
        var latest = Volatile.Read(ref _latest);
        if ((latest is null || time.GetUtcNow() - latest.TakenAt > s_maxAge) && Interlocked.Exchange(ref _refreshing, 1) == 0)
        {
            _ = RefreshAsync();
        }

        return latest;
    }

    private async Task RefreshAsync()
    {
        try
        {
            Volatile.Write(ref _latest, await reader.ReadAsync());
        }
        catch (Exception ex)
        {
            Log.GaugesRefreshFailed(logger, ex); // Redis unavailable: the gauges keep their last values
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }
}
