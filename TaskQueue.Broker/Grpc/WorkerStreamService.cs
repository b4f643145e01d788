using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Dispatch;
using TaskQueue.Broker.Services;
using TaskQueue.Broker.Storage;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// The worker stream: hello and re-attach, heartbeats that renew leases, reports settled through the
/// outcome batcher, drain, and what happens to a worker's leases when its stream ends.
/// </summary>
internal sealed partial class WorkerStreamService(
    RedisTaskStore store,
    Dispatcher dispatcher,
    OutcomeBatcher outcomes,
    WorkerRegistry registry,
    ClusterEvents cluster,
    IOptions<BrokerOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<WorkerStreamService> logger) : WorkerService.WorkerServiceBase
{
    private const int MaxErrorLength = 4096;
    private readonly BrokerOptions _options = options.Value;

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

        var session = CreateSession(requestStream.Current.Hello);
        var lost = await ReattachAsync(session, requestStream.Current.Hello.Running, callToken);
        session.Send(new BrokerMessage
        {
            Welcome = new Welcome
            {
                BrokerId = cluster.BrokerId,
                LeaseDuration = Duration.FromTimeSpan(_options.LeaseDuration),
                HeartbeatInterval = Duration.FromTimeSpan(_options.HeartbeatInterval),
                LostTaskIds = { lost },
                Batches = true,
            },
        });

        var writer = WriteLoopAsync(session, responseStream, callToken);
        cluster.Sessions[session.WorkerId] = session;
        await RecordHeartbeatAsync(session, connected: true, connectedAt: session.ConnectedAt);
        dispatcher.Attach(session);
        LogConnected(logger, session.WorkerId, session.Queues, session.Concurrency, session.Busy);

        using var silence = CancellationTokenSource.CreateLinkedTokenSource(callToken, lifetime.ApplicationStopping);
        using var watchdog = time.CreateTimer(
            _ => { if (time.GetUtcNow() - session.LastSeen > _options.WorkerSilenceLimit) { silence.Cancel(); } },
            null, _options.HeartbeatInterval, _options.HeartbeatInterval);
        var reason = "stream ended";
        try
        {
            while (await requestStream.MoveNext(silence.Token))
            {
                session.LastSeen = time.GetUtcNow();
                await HandleAsync(session, requestStream.Current, callToken);
            }
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            reason = "broker stopping";
            session.Send(new BrokerMessage { Drain = new Drain() });
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException || (ex is RpcException rpc && rpc.StatusCode == StatusCode.Cancelled))
        {
            reason = callToken.IsCancellationRequested ? "connection lost" : "heartbeats stopped";
        }
        finally
        {
            await EndSessionAsync(session, reason);
            await writer;
        }
    }

    private WorkerSession CreateSession(Hello hello)
    {
        if (string.IsNullOrWhiteSpace(hello.WorkerId) || hello.WorkerId.Length > 256)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "hello.worker_id must be 1 to 256 characters."));
        }

        if (hello.Concurrency is < 1 or > 10_000)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "hello.concurrency must be 1 to 10000."));
        }

        if (hello.Queues.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "hello.queues must name at least one queue."));
        }

        foreach (var queue in hello.Queues)
        {
            TaskValidation.ValidateQueueName(queue);
        }

        return new WorkerSession(hello.WorkerId, [.. hello.Queues.Distinct(StringComparer.Ordinal)], [.. hello.TaskTypes], hello.Concurrency, time.GetUtcNow())
        {
            Batches = hello.Batches,
        };
    }

    /// <summary>Renews the leases a reconnecting worker still holds; returns the ids it lost meanwhile.</summary>
    private async Task<List<string>> ReattachAsync(WorkerSession session, IEnumerable<RunningTask> running, CancellationToken cancellationToken)
    {
        var lost = new List<string>();
        var leases = new List<LeaseRef>();
        foreach (var task in running)
        {
            if (TaskId.TryParse(task.TaskId, out var id))
            {
                leases.Add(new LeaseRef(id.Value, task.LeaseToken));
            }
            else
            {
                lost.Add(task.TaskId);
            }
        }

        var now = time.GetUtcNow();
        foreach (var group in leases.GroupBy(l => l.Id.Queue, StringComparer.Ordinal))
        {
            var refs = group.ToList();
            var renewed = await store.RenewAsync(group.Key, refs, _options.LeaseDuration, cancellationToken);
            for (var i = 0; i < refs.Count; i++)
            {
                if (renewed.Results[i] is TransitionResult.Ok or TransitionResult.CancelRequested)
                {
                    session.Adopt(refs[i].Id, refs[i].Token, now);
                }
                else
                {
                    lost.Add(refs[i].Id.ToString());
                }
            }
        }

        return lost;
    }

    private async Task HandleAsync(WorkerSession session, WorkerMessage message, CancellationToken cancellationToken)
    {
        switch (message.KindCase)
        {
            case WorkerMessage.KindOneofCase.Heartbeat:
                try
                {
                    await HandleHeartbeatAsync(session, message.Heartbeat, cancellationToken);
                }
                catch (Exception ex) when (ex is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
                {
                    // Redis is unreachable or frozen: keep the stream (hanging up would only make the worker reconnect
                    // into the same outage); its next heartbeat renews the leases again.
                    LogHeartbeatFailed(logger, ex, session.WorkerId);
                }

                break;
            case WorkerMessage.KindOneofCase.Completed:
                Settle(session, [Complete(session, message.Completed)]);
                break;
            case WorkerMessage.KindOneofCase.Failed:
                Settle(session, [Fail(session, message.Failed)]);
                break;
            case WorkerMessage.KindOneofCase.Released:
                Settle(session, [Release(session, message.Released)]);
                break;
            case WorkerMessage.KindOneofCase.Outcomes:
                var batch = message.Outcomes;
                var reports = new List<Report?>(batch.Completed.Count + batch.Failed.Count + batch.Released.Count);
                reports.AddRange(batch.Completed.Select(completed => Complete(session, completed)));
                reports.AddRange(batch.Failed.Select(failed => Fail(session, failed)));
                reports.AddRange(batch.Released.Select(released => Release(session, released)));
                Settle(session, reports);
                break;
            case WorkerMessage.KindOneofCase.Draining:
                session.Draining = true;
                LogDraining(logger, session.WorkerId, session.Busy);
                break;
            case WorkerMessage.KindOneofCase.Progress:
                break;
            default:
                throw new RpcException(new Status(StatusCode.FailedPrecondition, $"Unexpected {message.KindCase} on an open worker stream."));
        }
    }

    /// <summary>A report on its way to Redis; null when its task id was not one (the worker was told).</summary>
    private sealed record Report(TaskId Id, Task<TransitionResult> Outcome);

    private Report? Complete(WorkerSession session, TaskCompleted completed) =>
        Parse(session, completed.TaskId) is { } id
            ? new Report(id, outcomes.CompleteAsync(
                new TaskCompletion(id, completed.LeaseToken, completed.Result.Memory), session.Find(id, completed.LeaseToken)))
            : null;

    private Report? Fail(WorkerSession session, TaskFailed failed)
    {
        var error = failed.Error.Length > MaxErrorLength ? failed.Error[..MaxErrorLength] : failed.Error;
        return Parse(session, failed.TaskId) is { } id
            ? new Report(id, outcomes.FailAsync(
                new TaskFailure(id, failed.LeaseToken, error, failed.Retryable), session.Find(id, failed.LeaseToken)))
            : null;
    }

    private Report? Release(WorkerSession session, TaskReleased released) =>
        Parse(session, released.TaskId) is { } id
            ? new Report(id, outcomes.ReleaseAsync(new LeaseRef(id, released.LeaseToken)))
            : null;

    private static TaskId? Parse(WorkerSession session, string taskId)
    {
        if (TaskId.TryParse(taskId, out var parsed))
        {
            return parsed.Value;
        }

        session.Send(new BrokerMessage { LeaseLost = new LeaseLost { TaskId = taskId, Reason = "not a task id" } });
        return null;
    }

    /// <summary>
    /// Once Redis has settled the reports (batched with others by the outcome batcher), frees the worker's
    /// slots and wakes the dispatcher once for all of them.
    /// </summary>
    private void Settle(WorkerSession session, IReadOnlyList<Report?> reports)
    {
        var pending = reports.OfType<Report>().ToArray();
        if (pending.Length == 0)
        {
            return;
        }

        _ = Task.WhenAll(pending.Select(r => r.Outcome)).ContinueWith(
            _ =>
            {
                // The slot is free once Redis agrees, so a worker never holds more leases than slots.
                var freed = false;
                foreach (var (id, outcome) in pending)
                {
                    freed |= session.Release(id);
                    if (!outcome.IsCompletedSuccessfully)
                    {
                        continue; // Redis failed: the lease stays and expires; the batcher logged it.
                    }

                    switch (outcome.Result)
                    {
                        case TransitionResult.StaleLease or TransitionResult.NotFound:
                            LogStaleReport(logger, session.WorkerId, id);
                            session.Send(new BrokerMessage { LeaseLost = new LeaseLost { TaskId = id.ToString(), Reason = "the lease is no longer yours" } });
                            break;
                        case TransitionResult.Ok or TransitionResult.Retrying or TransitionResult.DeadLettered:
                            session.CountCompleted();
                            break;
                        default:
                            break;
                    }
                }

                if (freed)
                {
                    dispatcher.NotifyCredit(session);
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private async Task HandleHeartbeatAsync(WorkerSession session, Heartbeat heartbeat, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var listed = new HashSet<TaskId>();
        var leases = new List<LeaseRef>();
        foreach (var running in heartbeat.Running)
        {
            if (TaskId.TryParse(running.TaskId, out var id))
            {
                listed.Add(id.Value);
                leases.Add(new LeaseRef(id.Value, running.LeaseToken));
            }
        }

        foreach (var group in leases.GroupBy(l => l.Id.Queue, StringComparer.Ordinal))
        {
            var refs = group.ToList();
            var renewed = await store.RenewAsync(group.Key, refs, _options.LeaseDuration, cancellationToken);
            for (var i = 0; i < refs.Count; i++)
            {
                var id = refs[i].Id.ToString();
                switch (renewed.Results[i])
                {
                    case TransitionResult.CancelRequested:
                        session.Send(new BrokerMessage { Cancel = new CancelTask { TaskId = id } });
                        break;
                    case TransitionResult.StaleLease or TransitionResult.NotFound:
                        if (session.Release(refs[i].Id))
                        {
                            dispatcher.NotifyCredit(session);
                        }

                        session.Send(new BrokerMessage { LeaseLost = new LeaseLost { TaskId = id, Reason = "the lease expired or moved on" } });
                        break;
                    default:
                        break;
                }
            }
        }

        // Tasks sent well before this heartbeat that the worker does not list: it does not have them.
        // Free their slots; their leases run out and the reaper retries them.
        if (session.ForgetUnlisted(listed, now - (_options.HeartbeatInterval * 1.5)).Count > 0)
        {
            dispatcher.NotifyCredit(session);
        }

        await RecordHeartbeatAsync(session, connected: true);
    }

    private async Task RecordHeartbeatAsync(WorkerSession session, bool connected, DateTimeOffset? connectedAt = null)
    {
        var now = time.GetUtcNow();
        var (_, quarantinedUntil) = await registry.HeartbeatAsync(
            session.WorkerId, cluster.BrokerId, session.Queues, session.Concurrency, session.Busy,
            session.TakeCompletedCount(), connected, now, connectedAt);
        var wasQuarantined = session.IsQuarantined(now);
        session.QuarantinedUntil = quarantinedUntil;
        if (wasQuarantined && !session.IsQuarantined(now))
        {
            dispatcher.NotifyCredit(session);
        }
    }

    private async Task EndSessionAsync(WorkerSession session, string reason)
    {
        dispatcher.Detach(session);
        cluster.Sessions.TryRemove(new KeyValuePair<string, WorkerSession>(session.WorkerId, session));
        var held = session.Close();
        LogDisconnected(logger, session.WorkerId, reason, held.Count);
        try
        {
            // A broker going away leaves leases alone: the worker re-attaches them on another broker.
            if (held.Count > 0 && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                foreach (var group in held.GroupBy(t => t.Id.Queue, StringComparer.Ordinal))
                {
                    await store.ShortenLeasesAsync(group.Key, [.. group.Select(t => new LeaseRef(t.Id, t.Token))], _options.DisconnectGrace, CancellationToken.None);
                }
            }

            await registry.HeartbeatAsync(
                session.WorkerId, cluster.BrokerId, session.Queues, session.Concurrency, 0, session.TakeCompletedCount(), connected: false, time.GetUtcNow());
        }
        catch (Exception ex)
        {
            LogEndFailed(logger, ex, session.WorkerId);
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Renewing the leases of worker {WorkerId} failed (Redis unavailable); its next heartbeat tries again")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception exception, string workerId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} connected: queues {Queues}, {Concurrency} slots, {Reattached} leases re-attached")]
    private static partial void LogConnected(ILogger logger, string workerId, IReadOnlyList<string> queues, int concurrency, int reattached);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} disconnected ({Reason}); {Held} leases it held end after the grace")]
    private static partial void LogDisconnected(ILogger logger, string workerId, string reason, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} is draining with {Busy} tasks running")]
    private static partial void LogDraining(ILogger logger, string workerId, int busy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rejected a stale report from worker {WorkerId} for task {TaskId}")]
    private static partial void LogStaleReport(ILogger logger, string workerId, TaskId taskId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ending the session of worker {WorkerId} did not finish cleanly")]
    private static partial void LogEndFailed(ILogger logger, Exception exception, string workerId);
}
