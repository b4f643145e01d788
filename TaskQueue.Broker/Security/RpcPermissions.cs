using System.Collections.Frozen;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Security;

/// <summary>What a call needs: an action on each of these queues, or (with <see cref="AnyQueue"/>) on at least one queue.</summary>
internal sealed record Permission(string Action, IReadOnlyList<string> Queues, bool AnyQueue = false)
{
    /// <summary>No scope at all: any authenticated caller (GetIdentity, which tells a caller its own scopes).</summary>
    public static readonly Permission AnyAuthenticated = new("", []);

    /// <summary>True for <see cref="AnyAuthenticated"/>: being signed in is enough.</summary>
    public bool NeedsNoScope => Action.Length == 0;

    public override string ToString() => NeedsNoScope ? "call this as any authenticated caller" : AnyQueue ? $"{Action} on any queue" : $"{Action}:{string.Join(",", Queues)}";
}

/// <summary>
/// The one table from TaskService request to the scope it needs and the queue(s) it acts on (the contract's
/// RPC → scope list). A request type missing here is refused: a new RPC cannot be forgotten open. Task ids carry
/// their queue (<see cref="TaskId.Parse"/>, no Redis read); a malformed one is bad input.
/// </summary>
internal static class RpcPermissions
{
    private static readonly FrozenDictionary<Type, Func<object, Permission>> s_table = new Dictionary<Type, Func<object, Permission>>
    {
        [typeof(SubmitRequest)] = r => new(ScopeActions.Submit, [((SubmitRequest)r).Task?.Queue ?? ""]),
        [typeof(SubmitBatchRequest)] = r => new(ScopeActions.Submit, [.. ((SubmitBatchRequest)r).Tasks.Select(t => t.Queue).Distinct(StringComparer.Ordinal)]),
        [typeof(GetTaskRequest)] = r => new(ScopeActions.Read, [TaskId.Parse(((GetTaskRequest)r).TaskId).Queue]),
        [typeof(WaitTaskRequest)] = r => new(ScopeActions.Read, [TaskId.Parse(((WaitTaskRequest)r).TaskId).Queue]),
        [typeof(WatchTaskRequest)] = r => new(ScopeActions.Read, [TaskId.Parse(((WatchTaskRequest)r).TaskId).Queue]),
        [typeof(ExplainTaskRequest)] = r => new(ScopeActions.Read, [TaskId.Parse(((ExplainTaskRequest)r).TaskId).Queue]),
        [typeof(ListTasksRequest)] = r => new(ScopeActions.Read, [((ListTasksRequest)r).Queue]),
        [typeof(GetQueueStatsRequest)] = r => new(ScopeActions.Read, [((GetQueueStatsRequest)r).Queue]),
        [typeof(ListDeadLettersRequest)] = r => new(ScopeActions.Read, [((ListDeadLettersRequest)r).Queue]),
        [typeof(CancelTaskRequest)] = r => new(ScopeActions.Admin, [TaskId.Parse(((CancelTaskRequest)r).TaskId).Queue]),
        [typeof(ReplayDeadLettersRequest)] = r => new(ScopeActions.Admin, [((ReplayDeadLettersRequest)r).Queue]),
        [typeof(PurgeDeadLettersRequest)] = r => new(ScopeActions.Admin, [((PurgeDeadLettersRequest)r).Queue]),
        // Without a queue the audit trail lists the queues the caller administers: admin on some queue is enough here.
        [typeof(ListAuditEntriesRequest)] = r => ((ListAuditEntriesRequest)r).Queue is { Length: > 0 } queue
            ? new(ScopeActions.Admin, [queue])
            : new(ScopeActions.Admin, [], AnyQueue: true),
        // Schedules: changes need admin on the queue, reads read; without a queue the list holds the queues the caller reads.
        [typeof(UpsertScheduleRequest)] = r => new(ScopeActions.Admin, [((UpsertScheduleRequest)r).Schedule?.Queue ?? ""]),
        [typeof(DeleteScheduleRequest)] = r => new(ScopeActions.Admin, [((DeleteScheduleRequest)r).Queue]),
        [typeof(PauseScheduleRequest)] = r => new(ScopeActions.Admin, [((PauseScheduleRequest)r).Queue]),
        [typeof(ResumeScheduleRequest)] = r => new(ScopeActions.Admin, [((ResumeScheduleRequest)r).Queue]),
        [typeof(TriggerScheduleRequest)] = r => new(ScopeActions.Admin, [((TriggerScheduleRequest)r).Queue]),
        [typeof(GetScheduleRequest)] = r => new(ScopeActions.Read, [((GetScheduleRequest)r).Queue]),
        [typeof(ListSchedulesRequest)] = r => ((ListSchedulesRequest)r).Queue is { Length: > 0 } queue
            ? new(ScopeActions.Read, [queue])
            : new(ScopeActions.Read, [], AnyQueue: true),
        // Flow control: changes need admin on the queue, the read needs read.
        [typeof(PauseQueueRequest)] = r => new(ScopeActions.Admin, [((PauseQueueRequest)r).Queue]),
        [typeof(ResumeQueueRequest)] = r => new(ScopeActions.Admin, [((ResumeQueueRequest)r).Queue]),
        [typeof(SetQueueLimitsRequest)] = r => new(ScopeActions.Admin, [((SetQueueLimitsRequest)r).Queue]),
        [typeof(SetGroupLimitsRequest)] = r => new(ScopeActions.Admin, [((SetGroupLimitsRequest)r).Queue]),
        [typeof(ClearGroupLimitsRequest)] = r => new(ScopeActions.Admin, [((ClearGroupLimitsRequest)r).Queue]),
        [typeof(GetQueueFlowRequest)] = r => new(ScopeActions.Read, [((GetQueueFlowRequest)r).Queue]),
        // The dashboard's: a caller's own identity needs no scope; the queue list shows only the queues it may read.
        [typeof(GetIdentityRequest)] = _ => Permission.AnyAuthenticated,
        [typeof(ListQueuesRequest)] = _ => new(ScopeActions.Read, [], AnyQueue: true),
        // A worker's queues are in the registry, not the request: admin on some queue here; the service then demands admin
        // on every queue the worker consumes (and audits a refusal there as denied).
        [typeof(DrainWorkerRequest)] = _ => new(ScopeActions.Admin, [], AnyQueue: true),
    }.ToFrozenDictionary();

    /// <summary>The request types the table knows (the tests check it covers every RPC).</summary>
    public static IEnumerable<Type> RequestTypes => s_table.Keys;

    /// <summary>What <paramref name="request"/> needs; null for a request type the table does not know (refuse it).</summary>
    public static Permission? For(object request) => s_table.TryGetValue(request.GetType(), out var permission) ? permission(request) : null;
}
