using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TaskQueue.Worker.Diagnostics;

/// <summary>The worker's instruments, on the one "TaskQueue.Worker" meter of this service.</summary>
internal sealed class WorkerMetrics
{
    private readonly Counter<long> _tasksProcessed;
    private readonly Histogram<double> _taskDuration;
    private readonly UpDownCounter<long> _busySlots;
    private readonly Counter<long> _reconnects;

    public WorkerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(WorkerTelemetry.Name);
        _tasksProcessed = meter.CreateCounter<long>(
            WorkerTelemetry.TasksProcessedInstrument, "{task}", "Task attempts processed, by outcome.");
        _taskDuration = meter.CreateHistogram<double>(
            WorkerTelemetry.TaskDurationInstrument, "s", "Execution time of task attempts.");
        _busySlots = meter.CreateUpDownCounter<long>(
            WorkerTelemetry.BusySlotsInstrument, "{slot}", "Execution slots running a handler.");
        _reconnects = meter.CreateCounter<long>(
            WorkerTelemetry.ReconnectsInstrument, "{connection}", "Broker connections opened after the first one.");
    }

    public void TaskProcessed(string queue, string type, string outcome, TimeSpan? duration)
    {
        var tags = new TagList
        {
            { WorkerTelemetry.MessagingDestinationName, queue },
            { WorkerTelemetry.TaskType, type },
            { WorkerTelemetry.TaskOutcome, outcome },
        };
        _tasksProcessed.Add(1, tags);
        if (duration is { } elapsed)
        {
            _taskDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public void SlotTaken() => _busySlots.Add(1);

    public void SlotFreed() => _busySlots.Add(-1);

    public void Reconnected() => _reconnects.Add(1);
}
