using Grpc.Core;
using Microsoft.Extensions.Options;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Limits;
using TaskQueue.Broker.Progress;
using TaskQueue.Broker.Security;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// The worker stream's edge: reads the worker's messages, parses them, and hands each to the session
/// lifecycle (<see cref="SessionLifecycle"/>); writes the session's outbox back. Why a stream ended is
/// decided here, what that means for the worker's leases there. Authorised here too: consume on every queue of
/// the Hello before anything reaches Redis, the worker id bound to the caller's identity, and the credential
/// checked again on every heartbeat (a revoked one ends the stream).
/// </summary>
internal sealed class WorkerStreamService(
    SessionLifecycle sessions,
    WorkerAccess access,
    RedisTaskStore store,
    ProgressWriter progress,
    CheckpointWriter checkpoints,
    IOptions<LimitOptions> limits,
    IHostApplicationLifetime lifetime,
    ILogger<WorkerStreamService> logger) : WorkerService.WorkerServiceBase
{
    /// <summary>The longest worker id a hello may give (DrainWorker refuses longer ones as well).</summary>
    internal const int MaxWorkerIdLength = 256;

    // The most task types a hello may list.
    private const int MaxTaskTypes = 1000;
    private const int MaxInstanceLength = 64;

    private readonly int _maxConcurrency = limits.Value.MaxWorkerConcurrency;

    public override async Task Connect(
        IAsyncStreamReader<WorkerMessage> requestStream, IServerStreamWriter<BrokerMessage> responseStream, ServerCallContext context)
    {
        var callToken = context.CancellationToken;
        // Headers at once: clients' resilience handlers time out streams whose headers come late.
        await context.WriteResponseHeadersAsync([]);
        if (!await requestStream.MoveNext(callToken) || requestStream.Current.KindCase != WorkerMessage.KindOneofCase.Hello)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, "The first message on a worker stream must be hello."));
        }

        var hello = requestStream.Current.Hello;
        var user = context.GetHttpContext().User;
        var parsed = ParseHello(hello, CallerIdentity.Name(user), _maxConcurrency);
        access.DemandConsume(user, parsed.Queues);
        // A hello's queues count against the queue cap like a submit's: naming new ones is no way around it.
        await store.RegisterQueuesAsync(parsed.Queues);
        WorkerSession session;
        try
        {
            session = await sessions.OpenAsync(parsed, Running(hello.Running), callToken);
        }
        catch (WorkerIdTakenException)
        {
            SecurityLog.WorkerIdTaken(logger, parsed.WorkerId, parsed.Owner);
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"Worker id '{parsed.WorkerId}' belongs to another identity."));
        }

        var writer = WriteLoopAsync(session, responseStream, callToken);
        await sessions.JoinAsync(session);

        using var silence = CancellationTokenSource.CreateLinkedTokenSource(callToken, lifetime.ApplicationStopping);
        using var watchdog = sessions.WatchSilence(session, silence.Cancel);
        var reason = "stream ended";
        try
        {
            while (await requestStream.MoveNext(silence.Token))
            {
                sessions.Seen(session);
                if (requestStream.Current.KindCase == WorkerMessage.KindOneofCase.Heartbeat && access.Revoked(user, session.Queues) is { } revoked)
                {
                    SecurityLog.StreamRevoked(logger, session.WorkerId, parsed.Owner, revoked.Detail);
                    reason = "credentials revoked";
                    throw new RpcException(revoked);
                }

                if (requestStream.Current.Heartbeat is { } heartbeat && OverConcurrency(heartbeat, session) is { } refusal)
                {
                    // More running tasks than slots is no worker's honest report: nothing it lists is renewed, the stream ends.
                    Log.HeartbeatOverConcurrency(logger, session.WorkerId, heartbeat.Running.Count, heartbeat.StuckTaskIds.Count, session.Concurrency);
                    reason = "heartbeat over concurrency";
                    throw new RpcException(refusal);
                }

                session.Handling = true;
                try
                {
                    await HandleAsync(session, requestStream.Current, callToken);
                }
                finally
                {
                    session.Handling = false;
                    sessions.Seen(session);
                }
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            reason = "broker stopping";
            session.SendDrain();
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || (ex is RpcException rpc && rpc.StatusCode == StatusCode.Cancelled))
        {
            reason = callToken.IsCancellationRequested ? "connection lost" : "heartbeats stopped";
        }
        finally
        {
            await sessions.CloseAsync(session, reason);
            await writer;
        }
    }

    private Task HandleAsync(WorkerSession session, WorkerMessage message, CancellationToken cancellationToken)
    {
        switch (message.KindCase)
        {
            case WorkerMessage.KindOneofCase.Heartbeat:
                return sessions.HeartbeatAsync(session, Running(message.Heartbeat.Running), message.Heartbeat.StuckTaskIds, cancellationToken);
            case WorkerMessage.KindOneofCase.Completed:
                Settle(session, [message.Completed], [], []);
                break;
            case WorkerMessage.KindOneofCase.Failed:
                Settle(session, [], [message.Failed], []);
                break;
            case WorkerMessage.KindOneofCase.Released:
                Settle(session, [], [], [message.Released]);
                break;
            case WorkerMessage.KindOneofCase.Outcomes:
                Settle(session, message.Outcomes.Completed, message.Outcomes.Failed, message.Outcomes.Released);
                break;
            case WorkerMessage.KindOneofCase.Draining:
                sessions.Drain(session);
                break;
            case WorkerMessage.KindOneofCase.Progress:
                Report(session, message.Progress);
                break;
            case WorkerMessage.KindOneofCase.Checkpoint:
                Checkpoint(session, message.Checkpoint);
                break;
            default:
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Unexpected {message.KindCase} on an open worker stream."));
        }

        return Task.CompletedTask;
    }

    private static WorkerHello ParseHello(Hello hello, string owner, int maxConcurrency)
    {
        if (string.IsNullOrWhiteSpace(hello.WorkerId) || hello.WorkerId.Length > MaxWorkerIdLength)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"hello.worker_id must be 1 to {MaxWorkerIdLength} characters."));
        }

        if (hello.Concurrency < 1 || hello.Concurrency > maxConcurrency)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"hello.concurrency must be 1 to {maxConcurrency}."));
        }

        if (hello.Running.Count > hello.Concurrency + LimitOptions.UnsettledReportAllowance)
        {
            throw new RpcException(new Status(
                StatusCode.InvalidArgument, $"hello.running lists more tasks than hello.concurrency has slots and {LimitOptions.UnsettledReportAllowance} outcomes offered again."));
        }

        if (hello.Queues.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "hello.queues must name at least one queue."));
        }

        foreach (var queue in hello.Queues)
        {
            TaskValidation.ValidateQueueName(queue);
        }

        // Every claim for the worker carries its types to Redis: bounded like the tasks' own type names.
        if (hello.TaskTypes.Count > MaxTaskTypes || hello.TaskTypes.Any(t => t.Length is 0 or > TaskValidation.MaxTypeLength))
        {
            throw new RpcException(new Status(
                StatusCode.InvalidArgument, $"hello.task_types must list at most {MaxTaskTypes} types of 1 to {TaskValidation.MaxTypeLength} characters."));
        }

        if (hello.Instance.Length > MaxInstanceLength || hello.Instance.Any(char.IsControl))
        {
            throw new RpcException(new Status(
                StatusCode.InvalidArgument, $"hello.instance must be at most {MaxInstanceLength} characters, none a control character."));
        }

        return new WorkerHello(
            hello.WorkerId, [.. hello.Queues.Distinct(StringComparer.Ordinal)], [.. hello.TaskTypes.Distinct(StringComparer.Ordinal)], hello.Concurrency, hello.Batches, owner)
        {
            Draining = hello.Draining,
            Instance = hello.Instance,
        };
    }

    /// <summary>
    /// A heartbeat lists at most one running task per slot of the Hello's concurrency (outcomes a worker offers again
    /// after a broken connection go in Hello, not in heartbeats), and at most as many stuck ones; null when it does.
    /// </summary>
    internal static Status? OverConcurrency(Heartbeat heartbeat, WorkerSession session) =>
        heartbeat.Running.Count > session.Concurrency || heartbeat.StuckTaskIds.Count > session.Concurrency
            ? new Status(
                StatusCode.InvalidArgument,
                $"heartbeat lists {heartbeat.Running.Count} running and {heartbeat.StuckTaskIds.Count} stuck tasks, more than hello.concurrency ({session.Concurrency}): refused, no lease renewed.")
            : null;

    private static List<RunningLease> Running(IReadOnlyCollection<RunningTask> running)
    {
        var leases = new List<RunningLease>(running.Count);
        foreach (var task in running)
        {
            leases.Add(new RunningLease(task.TaskId, task.LeaseToken));
        }

        return leases;
    }

    /// <summary>
    /// Parses one message's reports (a task id that is none is lost at once) and settles them; the read
    /// loop goes on meanwhile, and the lifecycle frees the slots once Redis answered.
    /// </summary>
    private void Settle(WorkerSession session, IEnumerable<TaskCompleted> completed, IEnumerable<TaskFailed> failed, IEnumerable<TaskReleased> released)
    {
        var completions = new List<TaskCompletion>();
        var failures = new List<TaskFailure>();
        foreach (var report in completed)
        {
            if (Parse(session, report.TaskId, report.LeaseToken) is not { } id)
            {
                continue;
            }

            if (report.Result.Length > store.Options.MaxResultBytes)
            {
                // The broker's cap is authoritative: a result over it fails the attempt for good, and nothing is stored.
                failures.Add(new TaskFailure(id, report.LeaseToken, ProtocolLimits.ResultTooLarge(report.Result.Length, store.Options.MaxResultBytes), Retryable: false));
            }
            else
            {
                completions.Add(new TaskCompletion(id, report.LeaseToken, report.Result.Memory));
            }
        }

        foreach (var report in failed)
        {
            var error = ProtocolLimits.TruncateError(report.Error);
            if (Parse(session, report.TaskId, report.LeaseToken) is { } id)
            {
                failures.Add(new TaskFailure(id, report.LeaseToken, error, report.Retryable));
            }
        }

        var releases = new List<LeaseRef>();
        foreach (var report in released)
        {
            if (Parse(session, report.TaskId, report.LeaseToken) is { } id)
            {
                releases.Add(new LeaseRef(id, report.LeaseToken));
            }
        }

        // A last progress report of these tasks goes to Redis before their outcomes (one volatile read while none waits).
        if (progress.Waiting > 0)
        {
            progress.WriteBefore(completions.Select(c => c.Id).Concat(failures.Select(f => f.Id)).Concat(releases.Select(r => r.Id)));
        }

        // Completes once settled and never faults: nothing to wait for on the read loop.
        _ = sessions.SettleAsync(session, new WorkerReports(completions, failures, releases));
    }

    /// <summary>Progress goes to the coalescing writer; a stale one is answered LeaseLost from there.</summary>
    private void Report(WorkerSession session, TaskProgress report)
    {
        if (Parse(session, report.TaskId, report.LeaseToken) is { } id)
        {
            progress.Report(session, new TaskProgressReport(id, report.LeaseToken, Math.Clamp(report.Percent, 0, 100), ProtocolLimits.TruncateError(report.Message)));
        }
    }

    /// <summary>Stored and answered (CheckpointSaved) while the read loop goes on; the worker awaits the answer.</summary>
    private void Checkpoint(WorkerSession session, TaskCheckpoint checkpoint)
    {
        if (!TaskId.TryParse(checkpoint.TaskId, out var id))
        {
            session.SendCheckpointSaved(checkpoint.TaskId, checkpoint.Sequence, accepted: false, "not a task id");
            session.SendLeaseLost(checkpoint.TaskId, checkpoint.LeaseToken, "not a task id");
            return;
        }

        var report = new TaskCheckpointReport(
            id.Value, checkpoint.LeaseToken, checkpoint.State.Memory, checkpoint.Percent < 0 ? -1 : Math.Min(checkpoint.Percent, 100),
            ProtocolLimits.TruncateError(checkpoint.Message));
        // Completes once answered and never faults: nothing to wait for on the read loop.
        _ = checkpoints.SaveAsync(session, report, checkpoint.Sequence);
    }

    private static TaskId? Parse(WorkerSession session, string taskId, string token)
    {
        if (TaskId.TryParse(taskId, out var parsed))
        {
            return parsed.Value;
        }

        session.SendLeaseLost(taskId, token, "not a task id");
        return null;
    }

    private static async Task WriteLoopAsync(WorkerSession session, IServerStreamWriter<BrokerMessage> responseStream, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in session.Outbox.ReadAllAsync(cancellationToken))
            {
                await responseStream.WriteAsync(message, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The call ended; the reader side notices and ends the session.
        }
    }
}
