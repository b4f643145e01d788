using Grpc.Core;
using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Keeps one WorkerService.Connect stream open, reconnecting forever with backoff. Each connection sends
/// Hello (listing the leases still held), waits for Welcome, then runs a reader, one writer and a heartbeat
/// timer until the stream ends.
/// </summary>
internal sealed class BrokerConnection(
    GrpcClientFactory clientFactory,
    TaskExecutor executor,
    OutboundQueue outbound,
    IOptions<WorkerOptions> options,
    WorkerMetrics metrics,
    TimeProvider timeProvider,
    ILogger<BrokerConnection> logger)
{
    public const string ClientName = "TaskQueue.Worker.Broker";

    private static readonly TimeSpan WelcomeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan DefaultHeartbeatInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MinimumHeartbeatInterval = TimeSpan.FromMilliseconds(10);

    // A write only means the bytes left this process. A dead broker goes unnoticed for up to the keepalive
    // delay plus timeout, so outcomes written that recently are offered again after a broken connection.
    private static readonly TimeSpan ResendWindow = TimeSpan.FromSeconds(15);
    private const int MaxResend = 4096;
    private const int MaxOutcomesPerMessage = 512;

    private readonly WorkerOptions _options = options.Value;
    private volatile bool _closed;

    /// <summary>Runs until the shutdown close marker has been written, or the token is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Log.Connecting(logger, _options.WorkerId, _options.BrokerAddress, string.Join(",", _options.Queues), _options.Concurrency);
        var failures = 0;
        var first = true;
        while (!_closed && !cancellationToken.IsCancellationRequested)
        {
            if (!first)
            {
                metrics.Reconnected();
            }

            first = false;
            var session = await RunSessionAsync(cancellationToken);
            if (_closed || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            failures = session.Welcomed ? 0 : failures + 1;
            var delay = ReconnectBackoff.Delay(failures);
            if (session.Error is null)
            {
                Log.Reconnecting(logger, session.EndReason ?? "stream ended", delay);
            }
            else
            {
                // Routine while a broker restarts: one line per attempt, the stack trace only at Debug.
                Log.ConnectionFailed(logger, Describe(session.Error), delay);
                Log.ConnectionFailureDetails(logger, session.Error);
            }

            try
            {
                await Task.Delay(delay, timeProvider, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private async Task<Session> RunSessionAsync(CancellationToken cancellationToken)
    {
        using var sessionCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopWriting = CancellationTokenSource.CreateLinkedTokenSource(sessionCts.Token);
        var abort = sessionCts.Token;
        var session = new Session(stopWriting);
        Task? readTask = null;
        Task? writeTask = null;
        Task? heartbeatTask = null;
        try
        {
            var client = clientFactory.CreateClient<WorkerService.WorkerServiceClient>(ClientName);
            using var call = client.Connect(cancellationToken: abort);

            var hello = new Hello
            {
                WorkerId = _options.WorkerId,
                Concurrency = _options.Concurrency,
                Queues = { _options.Queues },
                TaskTypes = { executor.TaskTypes },
                Running = { executor.SnapshotLeases() },
                Batches = true,
            };
            await call.RequestStream.WriteAsync(new WorkerMessage { Hello = hello }, abort);
            if (executor.IsDraining)
            {
                session.DrainingSent = true;
                await call.RequestStream.WriteAsync(new WorkerMessage { Draining = new Draining() }, abort);
            }

            readTask = ReadLoopAsync(call.ResponseStream, session, abort);
            var welcome = await session.Welcome.Task.WaitAsync(WelcomeTimeout, timeProvider, abort);
            session.Welcomed = true;
            Log.Connected(
                logger,
                welcome.BrokerId,
                welcome.LeaseDuration?.ToTimeSpan() ?? TimeSpan.Zero,
                session.HeartbeatInterval,
                hello.Running.Count - welcome.LostTaskIds.Count,
                welcome.LostTaskIds.Count);

            heartbeatTask = HeartbeatLoopAsync(session.HeartbeatInterval, abort);
            writeTask = WriteLoopAsync(call.RequestStream, session, stopWriting.Token, abort);

            if (await Task.WhenAny(readTask, writeTask) == writeTask && writeTask.IsCompletedSuccessfully)
            {
                // We closed our side (shutdown or broker drain): let the broker finish, briefly. Once it hangs
                // up after seeing our end of stream, it has read everything we wrote.
                await readTask.WaitAsync(CloseTimeout, timeProvider, abort);
                session.ClosedCleanly = true;
            }
            else
            {
                await await Task.WhenAny(readTask, writeTask);
            }
        }
        catch (Exception ex)
        {
            // When the worker itself is stopping, the error is just the cancellation.
            if (!cancellationToken.IsCancellationRequested)
            {
                session.Error = ex;
            }
        }
        finally
        {
            await sessionCts.CancelAsync();
            await ObserveAsync(readTask);
            await ObserveAsync(writeTask);
            await ObserveAsync(heartbeatTask);
            if (!session.ClosedCleanly)
            {
                OfferAgain(session);
            }
        }

        return session;
    }

    private async Task ReadLoopAsync(IAsyncStreamReader<BrokerMessage> stream, Session session, CancellationToken cancellationToken)
    {
        try
        {
            while (await stream.MoveNext(cancellationToken))
            {
                var message = stream.Current;
                switch (message.KindCase)
                {
                    case BrokerMessage.KindOneofCase.Welcome:
                        OnWelcome(message.Welcome, session);
                        break;
                    case BrokerMessage.KindOneofCase.Assignment:
                        executor.OnAssignment(message.Assignment);
                        break;
                    case BrokerMessage.KindOneofCase.Assignments:
                        foreach (var assignment in message.Assignments.Tasks)
                        {
                            executor.OnAssignment(assignment);
                        }

                        break;
                    case BrokerMessage.KindOneofCase.Cancel:
                        executor.OnCancel(message.Cancel.TaskId);
                        break;
                    case BrokerMessage.KindOneofCase.LeaseLost:
                        executor.OnLeaseLost(message.LeaseLost.TaskId, message.LeaseLost.Reason);
                        break;
                    case BrokerMessage.KindOneofCase.Drain:
                        Log.BrokerDraining(logger, session.BrokerId);
                        // Stop writing here (later outcomes go to the next broker) and reconnect once it hangs up.
                        session.EndReason = "broker draining";
                        await session.StopWriting.CancelAsync();
                        break;
                    default:
                        // A newer broker's message kind: nothing this worker can act on.
                        break;
                }
            }

            session.EndReason ??= "stream closed by the broker";
            session.Welcome.TrySetException(new IOException("The broker closed the stream before sending Welcome."));
        }
        catch (Exception ex)
        {
            session.Welcome.TrySetException(ex);
            throw;
        }
    }

    private void OnWelcome(Welcome welcome, Session session)
    {
        session.BrokerId = welcome.BrokerId;
        session.Batches = welcome.Batches;
        var interval = welcome.HeartbeatInterval?.ToTimeSpan() ?? TimeSpan.Zero;
        var lease = welcome.LeaseDuration?.ToTimeSpan() ?? TimeSpan.Zero;
        if (interval <= TimeSpan.Zero)
        {
            // The contract's cadence is lease/3; without either, a conservative default.
            interval = lease > TimeSpan.Zero ? lease / 3 : DefaultHeartbeatInterval;
        }

        session.HeartbeatInterval = interval < MinimumHeartbeatInterval ? MinimumHeartbeatInterval : interval;
        foreach (var taskId in welcome.LostTaskIds)
        {
            executor.OnLeaseLost(taskId, "not re-attached after reconnect");
        }

        session.Welcome.TrySetResult(welcome);
    }

    private async Task HeartbeatLoopAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        // Independent of task work: heartbeats only need the writer, which never waits on handlers.
        using var timer = new PeriodicTimer(interval, timeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken))
        {
            outbound.RequestHeartbeat();
        }
    }

    private async Task WriteLoopAsync(
        IClientStreamWriter<WorkerMessage> stream,
        Session session,
        CancellationToken stopWriting,
        CancellationToken abort)
    {
        var resend = outbound.Resend.ToArray();
        outbound.Resend.Clear();
        for (var i = 0; i < resend.Length; i++)
        {
            try
            {
                await WriteAsync(stream, resend[i], session, abort);
            }
            catch
            {
                outbound.Resend.AddRange(resend.Skip(i + 1));
                throw;
            }
        }

        while (true)
        {
            OutboundItem item;
            try
            {
                item = await outbound.Reader.ReadAsync(stopWriting);
            }
            catch (OperationCanceledException) when (!abort.IsCancellationRequested)
            {
                break;
            }

            if (item is OutcomeItem first && session.Batches)
            {
                // Every outcome queued since the last write goes in one message: one frame, one flush. Other
                // items stay queued, in order, and nothing more is taken once the broker asked us to stop.
                var batch = new List<OutcomeItem> { first };
                while (batch.Count < MaxOutcomesPerMessage && !stopWriting.IsCancellationRequested
                       && outbound.Reader.TryPeek(out var more) && more is OutcomeItem
                       && outbound.Reader.TryRead(out more))
                {
                    batch.Add((OutcomeItem)more);
                }

                await WriteOutcomesAsync(stream, batch, session, abort);
                continue;
            }

            if (item is CloseItem close)
            {
                try
                {
                    await stream.CompleteAsync();
                }
                catch
                {
                    // Not closed: the next connection re-sends what may be lost, then closes.
                    outbound.Enqueue(close);
                    throw;
                }

                _closed = true;
                session.EndReason = "worker stopped";
                close.Flushed.TrySetResult();
                return;
            }

            await WriteAsync(stream, item, session, abort);
        }

        await stream.CompleteAsync();
    }

    private async Task WriteAsync(IClientStreamWriter<WorkerMessage> stream, OutboundItem item, Session session, CancellationToken abort)
    {
        var message = Compose(item, session);
        if (message is null)
        {
            return;
        }

        if (item is OutcomeItem { Execution: not null } outcome)
        {
            session.Track(outcome, timeProvider);
        }

        await stream.WriteAsync(message, abort);
        if (item is OutcomeItem { Execution: { } execution })
        {
            executor.OnOutcomeWritten(execution);
        }
    }

    private async Task WriteOutcomesAsync(IClientStreamWriter<WorkerMessage> stream, List<OutcomeItem> items, Session session, CancellationToken abort)
    {
        var written = items.Where(item => item.Execution is not { IsDiscarded: true }).ToList();
        if (written.Count == 0)
        {
            return;
        }

        var outcomes = new Outcomes();
        foreach (var item in written)
        {
            switch (item.Message.KindCase)
            {
                case WorkerMessage.KindOneofCase.Completed:
                    outcomes.Completed.Add(item.Message.Completed);
                    break;
                case WorkerMessage.KindOneofCase.Failed:
                    outcomes.Failed.Add(item.Message.Failed);
                    break;
                case WorkerMessage.KindOneofCase.Released:
                    outcomes.Released.Add(item.Message.Released);
                    break;
                default:
                    throw new InvalidOperationException($"An outcome cannot be a {item.Message.KindCase} message.");
            }

            if (item.Execution is not null)
            {
                session.Track(item, timeProvider);
            }
        }

        await stream.WriteAsync(new WorkerMessage { Outcomes = outcomes }, abort);
        foreach (var item in written)
        {
            if (item.Execution is { } execution)
            {
                executor.OnOutcomeWritten(execution);
            }
        }
    }

    /// <summary>After a broken connection: lists the recently reported tasks in the next Hello and re-sends their outcomes.</summary>
    private void OfferAgain(Session session)
    {
        var now = timeProvider.GetTimestamp();
        foreach (var (outcome, writtenAt) in session.Written)
        {
            if (outcome.Execution is { IsDiscarded: false } execution && timeProvider.GetElapsedTime(writtenAt, now) <= ResendWindow)
            {
                executor.Reattach(execution);
                outbound.Resend.Add(outcome);
            }
        }
    }

    private WorkerMessage? Compose(OutboundItem item, Session session)
    {
        switch (item)
        {
            case OutcomeItem outcome:
                return outcome.Execution is { IsDiscarded: true } ? null : outcome.Message;
            case ProgressItem { Execution: var execution }:
                var report = execution.TakeProgress();
                if (report is null || execution.IsOutcomeDecided)
                {
                    return null;
                }

                return new WorkerMessage
                {
                    Progress = new TaskProgress
                    {
                        TaskId = execution.TaskId,
                        LeaseToken = execution.LeaseToken,
                        Percent = report.Percent,
                        Message = report.Message ?? string.Empty,
                    },
                };
            case HeartbeatItem:
                outbound.HeartbeatTaken();
                return new WorkerMessage { Heartbeat = new Heartbeat { Running = { executor.SnapshotLeases() } } };
            case DrainingItem:
                if (session.DrainingSent)
                {
                    return null;
                }

                session.DrainingSent = true;
                return new WorkerMessage { Draining = new Draining() };
            default:
                return null;
        }
    }

    private static string Describe(Exception error) => error is RpcException rpc
        ? $"{rpc.StatusCode}: {rpc.Status.Detail}"
        : $"{error.GetType().Name}: {error.Message}";

    private static async Task ObserveAsync(Task? task)
    {
        if (task is null)
        {
            return;
        }

        try
        {
            await task;
        }
        catch
        {
            // Already reported through the session's outcome.
        }
    }

    /// <summary>State of one connection attempt.</summary>
    private sealed class Session(CancellationTokenSource stopWriting)
    {
        public TaskCompletionSource<Welcome> Welcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenSource StopWriting { get; } = stopWriting;

        public string BrokerId { get; set; } = string.Empty;

        public TimeSpan HeartbeatInterval { get; set; } = DefaultHeartbeatInterval;

        public bool Welcomed { get; set; }

        public bool DrainingSent { get; set; }

        /// <summary>The broker takes several outcomes in one Outcomes message (its Welcome said so).</summary>
        public bool Batches { get; set; }

        public string? EndReason { get; set; }

        public Exception? Error { get; set; }

        /// <summary>The broker hung up after reading our end of stream: everything written was read.</summary>
        public bool ClosedCleanly { get; set; }

        /// <summary>Outcomes written (or being written) on this connection, oldest first, recent ones only.</summary>
        public Queue<(OutcomeItem Outcome, long WrittenAt)> Written { get; } = new();

        public void Track(OutcomeItem outcome, TimeProvider time)
        {
            var now = time.GetTimestamp();
            Written.Enqueue((outcome, now));
            while (Written.Count > MaxResend
                   || (Written.TryPeek(out var oldest) && time.GetElapsedTime(oldest.WrittenAt, now) > ResendWindow))
            {
                Written.Dequeue();
            }
        }
    }
}
