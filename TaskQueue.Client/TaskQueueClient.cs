using System.Diagnostics;
using System.Runtime.CompilerServices;
using Grpc.Core;
using Grpc.Net.Client;
using TaskQueue.Client.Diagnostics;
using TaskQueue.Client.Internal;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Client;

/// <summary>
/// Submits and manages TaskQueue tasks over gRPC. Thread-safe; cheap to create.
/// Every method lets broker and transport errors surface as <see cref="RpcException"/> (for example
/// NotFound for an unknown task id, InvalidArgument for a rejected request, Unavailable when the broker
/// cannot be reached, DeadlineExceeded past <see cref="TaskQueueClientOptions.RequestTimeout"/>);
/// invalid arguments are rejected with <see cref="ArgumentException"/> before any call.
/// </summary>
public sealed partial class TaskQueueClient
{
    private static readonly TimeSpan s_waitAgainPause = TimeSpan.FromMilliseconds(100);
    private readonly TaskService.TaskServiceClient _client;
    private readonly TaskQueueClientOptions _options;
    private readonly TimeProvider _timeProvider;

    /// <summary>A client on an existing channel, e.g. one from <see cref="CreateChannel(Uri)"/>.</summary>
    public TaskQueueClient(ChannelBase channel, TaskQueueClientOptions? options = null, TimeProvider? timeProvider = null)
        : this(new TaskService.TaskServiceClient(channel ?? throw new ArgumentNullException(nameof(channel))), options, timeProvider)
    {
    }

    /// <summary>
    /// A channel to a broker, set up as <c>AddTaskQueueClient</c> sets up its own: reconnect attempts at most
    /// 5 s apart (a plain <c>GrpcChannel.ForAddress</c> backs off up to 2 minutes, so after a long broker outage
    /// its calls keep failing long after the broker is back) and keep-alive pings that notice a dead
    /// connection within seconds. Dispose it when done.
    /// </summary>
    public static GrpcChannel CreateChannel(Uri brokerAddress)
    {
        ArgumentNullException.ThrowIfNull(brokerAddress);
        return BrokerChannel.Create([brokerAddress]);
    }

    /// <summary>
    /// A channel to one broker or several, set up as <see cref="CreateChannel(Uri)"/>; with several, calls are
    /// spread over them round-robin (a gRPC static resolver) and a broker that cannot be reached is skipped
    /// until it answers again. All addresses must share one scheme. Dispose it when done.
    /// </summary>
    public static GrpcChannel CreateChannel(IReadOnlyList<Uri> brokerAddresses)
    {
        CheckAddresses(brokerAddresses, nameof(brokerAddresses));
        return BrokerChannel.Create(brokerAddresses);
    }

    /// <summary>
    /// A channel to the brokers of <paramref name="options"/> (<see cref="TaskQueueClientOptions.BrokerAddresses"/>), set
    /// up as <see cref="CreateChannel(IReadOnlyList{Uri})"/>, that sends the options' credential on every call
    /// (<see cref="TaskQueueClientOptions.AccessTokenProvider"/>, else <see cref="TaskQueueClientOptions.ApiKey"/>), with
    /// its <see cref="TaskQueueClientOptions.Tls"/> settings (a custom CA, a client certificate). Dispose it when done.
    /// </summary>
    /// <exception cref="ArgumentException">The addresses or the TLS settings are not valid (the message says why).</exception>
    public static GrpcChannel CreateChannel(TaskQueueClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckAddresses(options.BrokerAddresses, nameof(options));
        if (BrokerChannel.CheckTls(options) is { Count: > 0 } tls)
        {
            throw new ArgumentException(string.Join(" ", tls), nameof(options));
        }

        return BrokerChannel.Create(options.BrokerAddresses, BrokerChannel.Credentials(options), options.Tls);
    }

    private static void CheckAddresses(IReadOnlyList<Uri> brokerAddresses, string parameter)
    {
        ArgumentNullException.ThrowIfNull(brokerAddresses, parameter);
        if (brokerAddresses.Count == 0 || brokerAddresses.Any(address => address is not { IsAbsoluteUri: true } || !TaskQueueClientOptions.IsHttp(address)))
        {
            throw new ArgumentException("Give at least one absolute http:// or https:// broker address.", parameter);
        }

        if (brokerAddresses.Select(address => address.Scheme).Distinct(StringComparer.Ordinal).Count() > 1)
        {
            throw new ArgumentException("The broker addresses mix http:// and https://; use one scheme for all.", parameter);
        }
    }

    /// <summary>A client on a call invoker (interceptors, tests).</summary>
    public TaskQueueClient(CallInvoker callInvoker, TaskQueueClientOptions? options = null, TimeProvider? timeProvider = null)
        : this(new TaskService.TaskServiceClient(callInvoker ?? throw new ArgumentNullException(nameof(callInvoker))), options, timeProvider)
    {
    }

    internal TaskQueueClient(TaskService.TaskServiceClient client, TaskQueueClientOptions? options, TimeProvider? timeProvider)
    {
        _client = client;
        _options = options ?? new TaskQueueClientOptions();
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Submits one task; returns its id, or the id of the task that answered instead (a repeated idempotency key, a
    /// unique key held by a waiting or running task, a debounce key of a task that still waits): see <see cref="SubmitResult.Outcome"/>.
    /// </summary>
    public async Task<SubmitResult> SubmitAsync(TaskRequest request, CancellationToken cancellationToken = default)
    {
        var spec = ProtocolMapper.ToSpec(request);
        using var activity = StartSendActivity(request.Queue, request.Type, count: 1);
        spec.TraceParent = TraceContext.FormatTraceParent(activity, out var traceState);
        spec.TraceState = traceState;
        try
        {
            var response = await _client.SubmitAsync(new SubmitRequest { Task = spec }, CallOptions(cancellationToken));
            activity?.SetTag(MessagingTags.MessagingMessageId, response.TaskId);
            ClientTelemetry.Submitted(request.Queue, 1);
            return ProtocolMapper.ToResult(response);
        }
        catch (Exception ex)
        {
            RecordError(activity, ex);
            throw;
        }
    }

    /// <summary>
    /// Submits many tasks, <see cref="TaskQueueClientOptions.BatchSize"/> per call, and returns their
    /// results in request order. If a call fails, its exception propagates and the tasks of earlier calls
    /// stay submitted: give tasks idempotency keys to retry a batch safely.
    /// </summary>
    public async Task<IReadOnlyList<SubmitResult>> SubmitBatchAsync(IReadOnlyList<TaskRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var specs = requests.Select(ProtocolMapper.ToSpec).ToArray();
        var results = new List<SubmitResult>(requests.Count);
        for (var offset = 0; offset < specs.Length; offset += _options.BatchSize)
        {
            var count = Math.Min(_options.BatchSize, specs.Length - offset);
            var queues = requests.Skip(offset).Take(count).Select(request => request.Queue).Distinct(StringComparer.Ordinal).ToArray();
            var types = requests.Skip(offset).Take(count).Select(request => request.Type).Distinct(StringComparer.Ordinal).ToArray();
            // One "create" span per task, each the start of that task's trace (or a child of the caller's
            // span), and one "send" span for the call, linked to them: a task's trace is about that task.
            var creates = StartCreateActivities(requests, offset, count);
            using var activity = StartSendActivity(queues.Length == 1 ? queues[0] : null, types.Length == 1 ? types[0] : null, count, creates);
            var message = new SubmitBatchRequest();
            for (var i = offset; i < offset + count; i++)
            {
                specs[i].TraceParent = TraceContext.FormatTraceParent(creates?[i - offset] ?? activity, out var traceState);
                specs[i].TraceState = traceState;
                message.Tasks.Add(specs[i]);
            }

            try
            {
                var response = await _client.SubmitBatchAsync(message, CallOptions(cancellationToken));
                if (response.Results.Count != count)
                {
                    throw new InvalidOperationException($"The broker answered {response.Results.Count} results for a batch of {count} tasks.");
                }

                results.AddRange(response.Results.Select(ProtocolMapper.ToResult));
                for (var i = 0; creates is not null && i < count; i++)
                {
                    creates[i]?.SetTag(MessagingTags.MessagingMessageId, response.Results[i].TaskId);
                }
                foreach (var queue in queues)
                {
                    ClientTelemetry.Submitted(queue, requests.Skip(offset).Take(count).Count(request => request.Queue == queue));
                }
            }
            catch (Exception ex)
            {
                RecordError(activity, ex);
                throw;
            }
            finally
            {
                foreach (var create in creates ?? [])
                {
                    create?.Dispose();
                }
            }
        }

        return results;
    }

    /// <summary>The task as the broker sees it now; NotFound when there is no such task (or it has passed its retention).</summary>
    public async Task<TaskSnapshot> GetAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        var info = await _client.GetAsync(new GetTaskRequest { TaskId = taskId }, CallOptions(cancellationToken));
        return ProtocolMapper.ToSnapshot(info);
    }

    /// <summary>
    /// Waits on the broker until the task reaches a final state or <paramref name="timeout"/> passes, and
    /// returns its state then (check <see cref="TaskSnapshot.IsFinal"/>). Rides out a broker restart: while
    /// time is left, an unavailable broker is asked again.
    /// </summary>
    public async Task<TaskSnapshot> WaitAsync(string taskId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        var deadline = _timeProvider.GetUtcNow() + timeout;
        while (true)
        {
            var left = deadline - _timeProvider.GetUtcNow();
            var request = new WaitTaskRequest { TaskId = taskId, Timeout = ProtocolMapper.ToDuration(left > TimeSpan.Zero ? left : TimeSpan.Zero) };
            try
            {
                var snapshot = ProtocolMapper.ToSnapshot(await _client.WaitAsync(request, CallOptions(cancellationToken, left)));
                // A broker answers early, unfinished, when it caps the wait (a stopping one answers UNAVAILABLE): wait on
                // for the rest, after a pause so the broker is not asked again and again.
                left = deadline - _timeProvider.GetUtcNow();
                if (snapshot.IsFinal || left <= TimeSpan.Zero)
                {
                    return snapshot;
                }
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && deadline - _timeProvider.GetUtcNow() > s_waitAgainPause)
            {
                // The broker went away (a restart, or another broker behind the same address is coming):
                // waiting is a read, so asking again is safe.
                left = deadline - _timeProvider.GetUtcNow();
            }

            await Task.Delay(left < s_waitAgainPause ? left : s_waitAgainPause, _timeProvider, cancellationToken);
        }
    }

    /// <summary>
    /// Why the task is not running, or what it is doing: one reason plus a sentence (scheduled until, waiting behind N tasks,
    /// no worker for its queue or type, all slots busy, workers quarantined, leased by a worker until, or final).
    /// NotFound when there is no such task (or it has passed its retention).
    /// </summary>
    public async Task<TaskExplanation> ExplainAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        var response = await _client.ExplainAsync(new ExplainTaskRequest { TaskId = taskId }, CallOptions(cancellationToken));
        return ProtocolMapper.ToExplanation(response);
    }

    /// <summary>
    /// Streams the task's changes: first its state now (<see cref="TaskWatchEventKind.Snapshot"/>), then one event per
    /// state change and per progress update, until and including its final state, where the sequence ends. Changes that
    /// follow each other faster than the broker reads the task arrive as one event with the later state. Rides out a
    /// broker restart: an unavailable broker is asked again for up to <see cref="TaskQueueClientOptions.RequestTimeout"/>,
    /// and the watch resumes with a new Snapshot event. Cancel <paramref name="cancellationToken"/> to stop watching.
    /// NotFound when there is no such task (or its retention ended while it was watched).
    /// </summary>
    public async IAsyncEnumerable<TaskWatchEvent> WatchAsync(string taskId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        var brokeAt = (DateTimeOffset?)null;
        while (true)
        {
            // No deadline: a watch lasts as long as its task runs.
            using var call = _client.Watch(new WatchTaskRequest { TaskId = taskId }, new CallOptions(cancellationToken: cancellationToken));
            while (true)
            {
                bool moved;
                try
                {
                    moved = await call.ResponseStream.MoveNext(cancellationToken);
                }
                catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable
                                              && _timeProvider.GetUtcNow() - (brokeAt ??= _timeProvider.GetUtcNow()) < _options.RequestTimeout)
                {
                    // The broker stopped or cannot be reached: watching is a read, so watch again.
                    break;
                }

                if (!moved)
                {
                    yield break;
                }

                brokeAt = null;
                var watched = ProtocolMapper.ToEvent(call.ResponseStream.Current);
                yield return watched;
                if (watched.Task.IsFinal)
                {
                    yield break;
                }
            }

            await Task.Delay(s_waitAgainPause, _timeProvider, cancellationToken);
        }
    }

    /// <summary>Cancels a task: at once if it is waiting, through its worker if it is running.</summary>
    public async Task<CancelResult> CancelAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        var response = await _client.CancelAsync(new CancelTaskRequest { TaskId = taskId }, CallOptions(cancellationToken));
        return new CancelResult(ProtocolMapper.ToState(response.State), response.CancelRequested);
    }

    /// <summary>One page of the queue's dead letters (at most <paramref name="limit"/>, after skipping <paramref name="offset"/>) and their total.</summary>
    public async Task<DeadLetterPage> ListDeadLettersAsync(string queue, int offset = 0, int limit = 100, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var request = new ListDeadLettersRequest { Queue = queue, Offset = offset, Limit = limit };
        var response = await _client.ListDeadLettersAsync(request, CallOptions(cancellationToken));
        return new DeadLetterPage([.. response.Tasks.Select(ProtocolMapper.ToSnapshot)], response.Total);
    }

    /// <summary>
    /// One page of the queue's tasks in <paramref name="state"/> (Ready, Scheduled, Leased, DeadLettered, or the
    /// retained Completed, Cancelled and Expired), at most <paramref name="limit"/> (1 to 1000), of one
    /// <paramref name="type"/> or every type (and of one <paramref name="group"/> or every group), from
    /// <paramref name="cursor"/> (a <see cref="TaskPage.NextCursor"/>; null for the first page). Each call reads one
    /// page on the broker whatever the queue's size; with a type or a group the page
    /// may hold fewer tasks (even none) while more follow: go on while <see cref="TaskPage.NextCursor"/> is not null.
    /// Ordered by the time the task entered the state (ready: its lane, then when it became ready; scheduled: when
    /// it is due; leased: its lease deadline; dead letters and finished tasks: when they ended).
    /// </summary>
    public async Task<TaskPage> ListTasksAsync(
        string queue, TaskState state, string? type = null, int limit = 100, string? cursor = null,
        TaskListOrder order = TaskListOrder.NewestFirst, string? group = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        if (state == TaskState.Unknown)
        {
            throw new ArgumentException("Name the state to list.", nameof(state));
        }

        var request = new ListTasksRequest
        {
            Queue = queue, State = ProtocolMapper.ToProto(state), Type = type ?? "", Limit = limit, Cursor = cursor ?? "",
            Order = ProtocolMapper.ToProto(order), Group = group ?? "",
        };
        var response = await _client.ListTasksAsync(request, CallOptions(cancellationToken));
        return new TaskPage([.. response.Tasks.Select(ProtocolMapper.ToSnapshot)], response.NextCursor.Length == 0 ? null : response.NextCursor);
    }

    /// <summary>Moves the given dead letters back to the queue; returns how many were replayed.</summary>
    public Task<long> ReplayDeadLettersAsync(string queue, IEnumerable<string> taskIds, CancellationToken cancellationToken = default) =>
        ReplayAsync(queue, RequireIds(taskIds), all: false, cancellationToken);

    /// <summary>Moves every dead letter of the queue back to it; returns how many were replayed.</summary>
    public Task<long> ReplayAllDeadLettersAsync(string queue, CancellationToken cancellationToken = default) =>
        ReplayAsync(queue, [], all: true, cancellationToken);

    /// <summary>Deletes the given dead letters; returns how many were purged.</summary>
    public Task<long> PurgeDeadLettersAsync(string queue, IEnumerable<string> taskIds, CancellationToken cancellationToken = default) =>
        PurgeAsync(queue, RequireIds(taskIds), all: false, cancellationToken);

    /// <summary>Deletes every dead letter of the queue; returns how many were purged.</summary>
    public Task<long> PurgeAllDeadLettersAsync(string queue, CancellationToken cancellationToken = default) =>
        PurgeAsync(queue, [], all: true, cancellationToken);

    /// <summary>The queue's current counts and cumulative counters.</summary>
    public async Task<QueueStatistics> GetQueueStatsAsync(string queue, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var stats = await _client.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = queue }, CallOptions(cancellationToken));
        return ProtocolMapper.ToStatistics(stats);
    }

    /// <summary>
    /// One page of the broker's audit trail of admin actions, newest first: at most <paramref name="limit"/>
    /// (1 to 1000) entries older than <paramref name="before"/> (an <see cref="AuditEntry.Id"/>, or null for the
    /// newest), of <paramref name="queue"/>, or with none of every queue the caller holds admin scope for.
    /// Needs admin scope (PermissionDenied otherwise).
    /// </summary>
    public async Task<AuditPage> ListAuditEntriesAsync(
        string? queue = null, int limit = 100, string? before = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 1000);
        var request = new ListAuditEntriesRequest { Queue = queue ?? "", Limit = limit, Before = before ?? "" };
        var response = await _client.ListAuditEntriesAsync(request, CallOptions(cancellationToken));
        var entries = response.Entries.Select(entry => new AuditEntry
        {
            Id = entry.Id,
            Time = entry.Time?.ToDateTimeOffset() ?? default,
            Identity = entry.Identity,
            Action = entry.Action,
            Queue = entry.Queue,
            Target = entry.Target,
            Outcome = entry.Outcome,
        });
        return new AuditPage([.. entries], response.NextBefore.Length == 0 ? null : response.NextBefore);
    }

    /// <summary>Who the broker takes this client's credential for, and the scopes it grants (any authenticated caller may ask).</summary>
    public async Task<CallerInfo> GetIdentityAsync(CancellationToken cancellationToken = default)
    {
        var response = await _client.GetIdentityAsync(new GetIdentityRequest(), CallOptions(cancellationToken));
        return new CallerInfo(response.Identity, [.. response.Scopes]);
    }

    /// <summary>The live queues this client may read, in name order (needs read scope on at least one queue).</summary>
    public async Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default)
    {
        var response = await _client.ListQueuesAsync(new ListQueuesRequest(), CallOptions(cancellationToken));
        return [.. response.Queues];
    }

    private async Task<long> ReplayAsync(string queue, string[] taskIds, bool all, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var request = new ReplayDeadLettersRequest { Queue = queue, All = all, TaskIds = { taskIds } };
        var response = await _client.ReplayDeadLettersAsync(request, CallOptions(cancellationToken));
        return response.Replayed;
    }

    private async Task<long> PurgeAsync(string queue, string[] taskIds, bool all, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        var request = new PurgeDeadLettersRequest { Queue = queue, All = all, TaskIds = { taskIds } };
        var response = await _client.PurgeDeadLettersAsync(request, CallOptions(cancellationToken));
        return response.Purged;
    }

    private static string[] RequireIds(IEnumerable<string> taskIds)
    {
        ArgumentNullException.ThrowIfNull(taskIds);
        var ids = taskIds.ToArray();
        // An empty list without "all" would be a silent no-op; the *All* methods say it explicitly.
        if (ids.Length == 0 || ids.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("Give at least one task id, none blank (or use the *All* method).", nameof(taskIds));
        }

        return ids;
    }

    private CallOptions CallOptions(CancellationToken cancellationToken, TimeSpan extra = default) =>
        new(deadline: _timeProvider.GetUtcNow().UtcDateTime + _options.RequestTimeout + extra, cancellationToken: cancellationToken);

    /// <summary>A "create" span per task of a batch, children of the caller's span if any; null when nobody listens.</summary>
    private static Activity?[]? StartCreateActivities(IReadOnlyList<TaskRequest> requests, int offset, int count)
    {
        if (count == 1 || !ClientTelemetry.ActivitySource.HasListeners())
        {
            return null; // a single task's "send" span is its creation context
        }

        var creates = new Activity?[count];
        var caller = Activity.Current;
        for (var i = 0; i < count; i++)
        {
            var request = requests[offset + i];
            var create = ClientTelemetry.ActivitySource.StartActivity($"create {request.Queue}", ActivityKind.Producer);
            if (create is { IsAllDataRequested: true })
            {
                create.SetTag(MessagingTags.MessagingSystem, MessagingTags.SystemName);
                create.SetTag(MessagingTags.MessagingOperationType, "create");
                create.SetTag(MessagingTags.MessagingOperationLegacy, "create");
                create.SetTag(MessagingTags.MessagingDestinationName, request.Queue);
                create.SetTag(MessagingTags.TaskType, request.Type);
            }

            creates[i] = create;
            Activity.Current = caller; // siblings, not a chain
        }

        return creates;
    }

    private static Activity? StartSendActivity(string? queue, string? type, int count, Activity?[]? creates = null)
    {
        var links = creates?.Where(c => c is not null).Select(c => new ActivityLink(c!.Context));
        var activity = ClientTelemetry.ActivitySource.StartActivity(
            queue is null ? "send" : $"send {queue}", creates is null ? ActivityKind.Producer : ActivityKind.Client, parentContext: default, links: links);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(MessagingTags.MessagingSystem, MessagingTags.SystemName);
            activity.SetTag(MessagingTags.MessagingOperationType, "send");
            activity.SetTag(MessagingTags.MessagingOperationLegacy, "send");
            if (queue is not null)
            {
                activity.SetTag(MessagingTags.MessagingDestinationName, queue);
            }

            if (type is not null)
            {
                activity.SetTag(MessagingTags.TaskType, type);
            }

            if (count != 1)
            {
                activity.SetTag(MessagingTags.MessagingBatchMessageCount, count);
            }
        }

        return activity;
    }

    private static void RecordError(Activity? activity, Exception exception)
    {
        activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity?.AddException(exception);
    }
}
