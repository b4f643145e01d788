using Grpc.Core;
using Grpc.Net.ClientFactory;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// One connection attempt: opens WorkerService.Connect, sends Hello (listing the leases still held), waits for
/// Welcome, then reads the broker's messages while the <see cref="OutboundWriter"/> and the
/// <see cref="HeartbeatLoop"/> run, until the stream ends. What it may not have delivered goes to the
/// <see cref="ResendBuffer"/> for the next attempt.
/// </summary>
internal sealed class BrokerSession(
    GrpcClientFactory clientFactory,
    TaskExecutor executor,
    OperatorDrain operatorDrain,
    OutboundQueue outbound,
    OutboundWriter writer,
    ResendBuffer resend,
    IOptions<WorkerOptions> options,
    TimeProvider timeProvider,
    ILogger<BrokerSession> logger)
{
    public static readonly TimeSpan WelcomeTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long the broker may take to hang up once this side completed the stream.</summary>
    public static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private readonly WorkerOptions _options = options.Value;

    // This process, the same across reconnects (Hello.instance): a drain asked for between connections holds for it.
    private readonly string _instance = Guid.NewGuid().ToString("N");

    /// <summary>Runs one connection to its end; never throws (the error is in the result).</summary>
    public async Task<SessionEnd> RunAsync(CancellationToken cancellationToken)
    {
        using var sessionCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopWriting = CancellationTokenSource.CreateLinkedTokenSource(sessionCts.Token);
        var abort = sessionCts.Token;
        var session = new SessionState(stopWriting);
        Task? readTask = null;
        Task? writeTask = null;
        Task? heartbeatTask = null;
        try
        {
            var client = clientFactory.CreateClient<WorkerService.WorkerServiceClient>(BrokerConnection.ClientName);
            using var call = client.Connect(cancellationToken: abort);

            var hello = new Hello
            {
                WorkerId = _options.WorkerId,
                Concurrency = _options.Concurrency,
                Queues = { _options.Queues },
                TaskTypes = { executor.TaskTypes },
                Running = { executor.SnapshotLeases() },
                Batches = true,
                // Drained (by an operator, or shutting down) before this connection: the new session offers nothing.
                Draining = executor.IsDraining,
                Instance = _instance,
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

            // Checkpoints the last connection may have lost before their answer: storing one twice is harmless.
            executor.ResendCheckpoints();
            heartbeatTask = HeartbeatLoop.RunAsync(outbound, session.HeartbeatInterval, timeProvider, abort);
            writeTask = writer.RunAsync(call.RequestStream, session, stopWriting.Token, abort);

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
            foreach (var execution in resend.ConnectionEnded(readByBroker: session.ClosedCleanly))
            {
                // Listed in the next Hello until its outcome is re-sent.
                executor.Reattach(execution);
            }
        }

        return session.ToEnd();
    }

    private async Task ReadLoopAsync(IAsyncStreamReader<BrokerMessage> stream, SessionState session, CancellationToken cancellationToken)
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
                    case BrokerMessage.KindOneofCase.CheckpointSaved:
                        executor.OnCheckpointSaved(message.CheckpointSaved);
                        break;
                    case BrokerMessage.KindOneofCase.LeaseLost:
                        executor.OnLeaseLost(message.LeaseLost.TaskId, message.LeaseLost.LeaseToken, message.LeaseLost.Reason);
                        break;
                    case BrokerMessage.KindOneofCase.Drain:
                        Log.BrokerDraining(logger, session.BrokerId);
                        // Stop writing here (later outcomes go to the next broker) and reconnect once it hangs up.
                        session.EndReason = "broker draining";
                        await session.StopWriting.CancelAsync();
                        break;
                    case BrokerMessage.KindOneofCase.WorkerDrain:
                        operatorDrain.Begin();
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

    private void OnWelcome(Welcome welcome, SessionState session)
    {
        session.BrokerId = welcome.BrokerId;
        session.Batches = welcome.Batches;
        session.HeartbeatInterval = HeartbeatLoop.IntervalFor(welcome);
        executor.SetResultLimit(welcome.MaxResultBytes);
        foreach (var taskId in welcome.LostTaskIds)
        {
            executor.OnLeaseLost(taskId, token: "", "not re-attached after reconnect");
        }

        session.Welcome.TrySetResult(welcome);
    }

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
}
