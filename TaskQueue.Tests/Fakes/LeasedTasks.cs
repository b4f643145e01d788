using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Fakes;

/// <summary>Leased tasks as a claim returns them, for tests that need some.</summary>
internal static class LeasedTasks
{
    public static LeasedTask New(string queue, string type = "test") =>
        new(TaskId.New(queue), type, ReadOnlyMemory<byte>.Empty, Attempt: 1, MaxAttempts: 3, Priority: 0, ExecutionTimeout: null,
            TraceParent: null, TraceState: null, LeaseToken: Guid.NewGuid().ToString("N"), LeaseDeadline: DateTimeOffset.UnixEpoch, EnqueuedAt: DateTimeOffset.UnixEpoch);
}
