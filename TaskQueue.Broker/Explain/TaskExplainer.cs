using System.Globalization;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Explain;

/// <summary>
/// Explains a task (the Explain RPC, the CLI's <c>why</c>): from its hash, one read of its ready stream or lease
/// (Scripts/explain.lua) and the worker registry, so every broker answers alike, for workers on any broker. Nothing
/// is cached: the reason changes as soon as its cause does (worker counts and busy slots are as of each worker's
/// last heartbeat). For a ready task the first cause that applies is the answer: its queue is paused; no worker
/// consumes its queue; none handles its type; all that could are quarantined; the queue's concurrency limit is
/// reached; its rate limit's bucket is empty; its group is at its concurrency limit or out of rate tokens; tasks wait
/// ahead of it; every slot is busy; else it is being dispatched.
/// </summary>
internal sealed class TaskExplainer(
    RedisTaskStore store,
    WorkerRegistry registry,
    IConnectionMultiplexer redis,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    RedisFlowStore? flowStore = null)
{
    private readonly RedisFlowStore _flow = flowStore ?? new RedisFlowStore(redis, new RedisClockShift());

    /// <summary>Counting the tasks ahead stops here (the answer is then a lower bound): one call reads a bounded amount.</summary>
    public const int MaxAhead = 10_000;

    /// <summary>The task's explanation; null when there is no such task (or its retention ended).</summary>
    public async Task<TaskExplanation?> ExplainAsync(TaskId id, CancellationToken cancellationToken)
    {
        var task = await store.GetAsync(id, cancellationToken);
        if (task is null)
        {
            return null;
        }

        switch (task.State)
        {
            case TaskState.Completed:
                return new(ExplanationReason.Completed, $"completed at {Format(task.FinishedAt)} (attempt {task.Attempt} of {task.MaxAttempts})", task.State);
            case TaskState.Cancelled:
                return new(ExplanationReason.Cancelled, $"cancelled at {Format(task.FinishedAt)}", task.State);
            case TaskState.Expired:
                return new(ExplanationReason.Expired, $"expired at {Format(task.FinishedAt)} without starting (its expiry passed while it waited)", task.State);
            case TaskState.DeadLettered:
                return new(
                    ExplanationReason.DeadLettered,
                    $"dead-lettered at {Format(task.FinishedAt)} after {task.Attempt} of {task.MaxAttempts} attempts: {task.LastError ?? "no error recorded"}",
                    task.State);
            case TaskState.Scheduled:
                return new(
                    ExplanationReason.Scheduled,
                    task.Attempt > 0
                        ? $"scheduled until {Format(task.DueAt)}: retry {task.Attempt + 1} of {task.MaxAttempts}, after {task.LastError ?? "a failed attempt"}"
                        : $"scheduled until {Format(task.DueAt)}",
                    task.State,
                    Until: task.DueAt);
            default:
                break;
        }

        var (ahead, lowerBound, leaseDeadline, group) = await ReadStreamAndLeaseAsync(id);
        if (task.State == TaskState.Leased)
        {
            var cancel = task.CancelRequested ? "; its cancellation was requested" : "";
            return new(
                ExplanationReason.Leased,
                $"leased by {task.WorkerId} until {Format(leaseDeadline)} (attempt {task.Attempt} of {task.MaxAttempts}){cancel}",
                task.State,
                Until: leaseDeadline,
                WorkerId: task.WorkerId);
        }

        return await ExplainReadyAsync(task, ahead, lowerBound, group);
    }

    private async Task<TaskExplanation> ExplainReadyAsync(TaskSnapshot task, long ahead, bool lowerBound, GroupFacts group)
    {
        var flow = await _flow.GetAsync(task.Id.Queue);
        if (flow.Paused)
        {
            return new(ExplanationReason.Paused, $"queue '{task.Id.Queue}' is paused: nothing of it starts until it resumes", task.State, Ahead: ahead, AheadIsLowerBound: lowerBound);
        }

        var now = time.GetUtcNow();
        var workers = await registry.ListAsync(now, options.Value.WorkerSilenceLimit);
        var connected = workers.Where(w => w.IsAlive && w.Queues.Contains(task.Id.Queue, StringComparer.Ordinal)).ToList();
        // A draining worker takes nothing new: it does not count as one that consumes the queue.
        var forQueue = connected.Where(w => w.Status != WorkerStatuses.Draining).ToList();
        if (forQueue.Count == 0)
        {
            var draining = connected.Count > 0 ? $" ({Count(connected.Count, "worker")} connected, draining)" : "";
            return new(ExplanationReason.NoWorkerForQueue, $"no connected worker consumes queue '{task.Id.Queue}'{draining}", task.State, Ahead: ahead, AheadIsLowerBound: lowerBound);
        }

        var forType = forQueue.Where(w => w.Handles(task.Type)).ToList();
        if (forType.Count == 0)
        {
            return new(
                ExplanationReason.NoWorkerForType,
                $"{Count(forQueue.Count, "connected worker")} of queue '{task.Id.Queue}', none handles type '{task.Type}'",
                task.State,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        var trusted = forType.Where(w => w.Status != WorkerStatuses.Quarantined).ToList();
        if (trusted.Count == 0)
        {
            var until = forType.Min(w => w.QuarantinedUntil);
            return new(
                ExplanationReason.WorkerQuarantined,
                $"every worker that could run it ({string.Join(", ", forType.Select(w => w.WorkerId))}) is quarantined, the first until {Format(until)}",
                task.State,
                Until: until,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        if (flow.Limits.Concurrency is { } limit && flow.Leased >= limit)
        {
            return new(
                ExplanationReason.ConcurrencyLimited,
                $"queue '{task.Id.Queue}' is at its concurrency limit: {flow.Leased} leased of {limit}; it starts when one of them ends",
                task.State,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        if (flow is { Limits.Rate: { } rate, Tokens: { } tokens } && tokens < 1)
        {
            var next = now + TimeSpan.FromSeconds((1 - tokens) / rate);
            return new(
                ExplanationReason.RateLimited,
                $"queue '{task.Id.Queue}' is rate limited ({FlowText.Of(rate)}/s) until {Format(next)}, when its next token is in",
                task.State,
                Until: next,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        if (!string.IsNullOrEmpty(task.Group) && group.Limit >= 0 && group.Leased >= group.Limit)
        {
            return new(
                ExplanationReason.GroupLimited,
                $"its group '{task.Group}' is at its concurrency limit: {group.Leased} of {group.Limit} leased",
                task.State,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        if (!string.IsNullOrEmpty(task.Group) && group.WaitMs > 0)
        {
            var until = now.AddMilliseconds(group.WaitMs);
            return new(
                ExplanationReason.GroupLimited,
                $"its group '{task.Group}' is rate-limited until {Format(until)}",
                task.State,
                Until: until,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        var slots = trusted.Sum(w => w.Slots);
        var free = trusted.Sum(w => Math.Max(0, w.Slots - w.Busy - w.StuckSlots));
        var stuck = trusted.Sum(w => w.StuckSlots);
        var slotText = $"{free} of {Count(slots, "slot")} of {Count(trusted.Count, "worker")} free" + (stuck > 0 ? $", {stuck} stuck" : "");
        if (ahead > 0)
        {
            return new(
                ExplanationReason.WaitingBehind,
                $"waiting behind {(lowerBound ? "at least " : "")}{Count(ahead, "task")} of its priority ({slotText})",
                task.State,
                Ahead: ahead,
                AheadIsLowerBound: lowerBound);
        }

        return free == 0
            ? new(ExplanationReason.AllSlotsBusy, $"next in line; all {Count(slots, "slot")} of {Count(trusted.Count, "worker")} that could run it are busy" + (stuck > 0 ? $" ({stuck} stuck)" : ""), task.State)
            : new(ExplanationReason.Dispatching, $"next in line and a slot is free ({slotText}): being dispatched", task.State);
    }

    private async Task<(long Ahead, bool LowerBound, DateTimeOffset? LeaseDeadline, GroupFacts Group)> ReadStreamAndLeaseAsync(TaskId id)
    {
        var reply = (RedisResult[])(await redis.GetDatabase().RunScriptAsync(
            ScriptLibrary.Explain, RedisKeySpace.Of(redis).ScriptKeys(id.Queue), [id.LocalId, MaxAhead, 0]))!;
        var deadline = (long)reply[2];
        var group = new GroupFacts((long)reply[3], (long)reply[4], (long)reply[5]);
        return ((long)reply[0], (long)reply[1] == 1, deadline >= 0 ? DateTimeOffset.FromUnixTimeMilliseconds(deadline) : null, group);
    }

    /// <summary>A ready task's group as a claim would judge it now: leased count, concurrency limit (-1: none), ms until a token (0: has one).</summary>
    private sealed record GroupFacts(long Leased, long Limit, long WaitMs);

    private static string Count(long n, string noun) => n == 1 ? $"1 {noun}" : $"{n.ToString("N0", CultureInfo.InvariantCulture)} {noun}s";

    private static string Format(DateTimeOffset? at) =>
        at is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) : "an unknown time";
}
