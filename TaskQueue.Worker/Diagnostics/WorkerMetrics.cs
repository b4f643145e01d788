using System.Diagnostics;
using System.Diagnostics.Metrics;
using TaskQueue.Protocol;

namespace TaskQueue.Worker.Diagnostics;

/// <summary>The worker's instruments, on the one "TaskQueue.Worker" meter of this service.</summary>
internal sealed class WorkerMetrics
{
    // Handlers run for milliseconds to minutes; the SDK's default buckets start at 5 (seconds, here).
    private static readonly double[] s_secondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

    private readonly Counter<long> _tasksProcessed;
    private readonly Histogram<double> _taskDuration;
    private readonly UpDownCounter<long> _busySlots;
    private readonly UpDownCounter<long> _stuckSlots;
    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _outcomesNotSettled;

    public WorkerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(WorkerTelemetry.Name);
        _tasksProcessed = meter.CreateCounter<long>(
            WorkerTelemetry.TasksProcessedInstrument, "{task}", "Task attempts processed, by outcome.");
        _taskDuration = meter.CreateHistogram<double>(
            WorkerTelemetry.TaskDurationInstrument, "s", "Execution time of task attempts.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_secondsBuckets });
        _busySlots = meter.CreateUpDownCounter<long>(
            WorkerTelemetry.BusySlotsInstrument, "{slot}", "Execution slots running a handler.");
        _stuckSlots = meter.CreateUpDownCounter<long>(
            WorkerTelemetry.StuckSlotsInstrument, "{slot}", "Execution slots held by a handler whose lease was lost and that has not returned.");
        _reconnects = meter.CreateCounter<long>(
            WorkerTelemetry.ReconnectsInstrument, "{connection}", "Broker connections opened after the first one.");
        _outcomesNotSettled = meter.CreateCounter<long>(
            WorkerTelemetry.OutcomesNotSettledInstrument, "{task}", "Outcomes written that the broker could not settle before their lease ran out (the tasks run again).");
    }

    public void TaskProcessed(string queue, string type, string outcome, TimeSpan? duration)
    {
        var tags = new TagList
        {
            { WorkerTelemetry.MessagingDestinationName, queue },
            { WorkerTelemetry.TaskType, type },
            { WorkerTelemetry.TaskOutcome, outcome },
            { WorkerTelemetry.MessagingSystem, MessagingTags.SystemName },
            { MessagingTags.MessagingOperationName, "process" },
        };
        _tasksProcessed.Add(1, tags);
        if (duration is { } elapsed)
        {
            _taskDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public void SlotTaken() => _busySlots.Add(1);

    public void SlotFreed() => _busySlots.Add(-1);

    public void SlotStuck() => _stuckSlots.Add(1);

    public void SlotUnstuck() => _stuckSlots.Add(-1);

    public void Reconnected() => _reconnects.Add(1);

    public void OutcomeNotSettled() => _outcomesNotSettled.Add(1);
}
