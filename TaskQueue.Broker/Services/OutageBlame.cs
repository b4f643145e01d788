using TaskQueue.Broker.Diagnostics;

namespace TaskQueue.Broker.Services;

/// <summary>
/// The reaper's judgement of Redis outages. When Redis (or this broker) was stuck around a call, nothing
/// answering for longer than a heartbeat interval, renewals were stuck too: leases that ran out then, and
/// until every worker has heartbeated again (two heartbeat intervals), say nothing about their workers.
/// </summary>
internal sealed class OutageBlame(TimeSpan heartbeatInterval, DateTimeOffset start, ILogger logger)
{
    // When Redis last answered promptly, and until when expiries are blamed on an outage.
    private DateTimeOffset _lastAnswer = start;
    private DateTimeOffset _excusedUntil;

    /// <summary>Notes a call to Redis that started and was answered at these times; true while expiries are excused.</summary>
    public bool Observe(DateTimeOffset callStarted, DateTimeOffset answered)
    {
        var stuckFor = answered - (callStarted > _lastAnswer ? _lastAnswer : callStarted);
        if (stuckFor > heartbeatInterval || answered - callStarted > heartbeatInterval)
        {
            _excusedUntil = answered + (heartbeatInterval * 2);
            Log.RedisOutage(logger, stuckFor);
        }

        _lastAnswer = answered;
        return answered < _excusedUntil;
    }
}
