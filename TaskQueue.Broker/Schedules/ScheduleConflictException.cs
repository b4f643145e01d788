namespace TaskQueue.Broker.Schedules;

/// <summary>A schedule kept changing under a change (a storm of concurrent upserts): nothing was written; the gRPC edge answers ABORTED.</summary>
public sealed class ScheduleConflictException(string message) : Exception(message);
