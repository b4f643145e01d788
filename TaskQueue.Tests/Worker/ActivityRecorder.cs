using System.Collections.Concurrent;
using System.Diagnostics;
using TaskQueue.Tests.Fakes;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Tests.Worker;

/// <summary>
/// Listens to the worker's ActivitySource. A "process" span stops only after the attempt's outcome was
/// decided (queued or deliberately not reported), which makes it a reliable "the worker is done with
/// this attempt" signal.
/// </summary>
internal sealed class ActivityRecorder : IDisposable
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource<Activity>> _stopped = new();
    private readonly ActivityListener _listener;

    public ActivityRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == WorkerTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem(WorkerTelemetry.MessagingMessageId) is string taskId)
                {
                    For(taskId).TrySetResult(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public Task<Activity> StoppedAsync(string taskId) => For(taskId).Task.WaitAsync(FakeBroker.DefaultWait);

    public void Dispose() => _listener.Dispose();

    private TaskCompletionSource<Activity> For(string taskId) =>
        _stopped.GetOrAdd(taskId, _ => new TaskCompletionSource<Activity>(TaskCreationOptions.RunContinuationsAsynchronously));
}
