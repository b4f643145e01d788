using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TaskQueue.Broker.Diagnostics;

/// <summary>The broker's one Meter and one ActivitySource, with the instruments it records.</summary>
public sealed class BrokerTelemetry : IDisposable
{
    public const string Name = "TaskQueue.Broker";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter _meter;

    public BrokerTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(Name);
        Submitted = _meter.CreateCounter<long>("taskqueue.tasks.submitted", "{task}", "Tasks accepted by the broker.");
        Completed = _meter.CreateCounter<long>("taskqueue.tasks.completed", "{task}", "Tasks completed.");
        Failed = _meter.CreateCounter<long>("taskqueue.tasks.failed", "{task}", "Failed attempts reported by workers or expired leases.");
        Retried = _meter.CreateCounter<long>("taskqueue.tasks.retried", "{task}", "Failed attempts scheduled for another try.");
        DeadLettered = _meter.CreateCounter<long>("taskqueue.tasks.dead_lettered", "{task}", "Tasks moved to the dead-letter queue.");
        Expired = _meter.CreateCounter<long>("taskqueue.tasks.expired", "{task}", "Tasks dropped because they did not start before their expiry.");
        LeaseExpiries = _meter.CreateCounter<long>("taskqueue.leases.expired", "{lease}", "Leases that ran out before their worker reported.");
        StaleReports = _meter.CreateCounter<long>("taskqueue.reports.stale", "{report}", "Completions, failures or renewals refused because the lease was no longer the sender's.");
        Quarantines = _meter.CreateCounter<long>("taskqueue.workers.quarantined", "{worker}", "Workers quarantined for letting leases expire.");
        QueueWait = _meter.CreateHistogram<double>("taskqueue.task.queue_wait", "s", "Time from ready to leased.");
        Dispatched = _meter.CreateCounter<long>("taskqueue.tasks.dispatched", "{task}", "Assignments sent to workers.");
    }

    public Counter<long> Submitted { get; }
    public Counter<long> Completed { get; }
    public Counter<long> Failed { get; }
    public Counter<long> Retried { get; }
    public Counter<long> DeadLettered { get; }
    public Counter<long> Expired { get; }
    public Counter<long> LeaseExpiries { get; }
    public Counter<long> StaleReports { get; }
    public Counter<long> Quarantines { get; }
    public Counter<long> Dispatched { get; }
    public Histogram<double> QueueWait { get; }

    public Meter Meter => _meter;

    public static KeyValuePair<string, object?> QueueTag(string queue) => new("messaging.destination.name", queue);

    public void Dispose() => _meter.Dispose();
}
