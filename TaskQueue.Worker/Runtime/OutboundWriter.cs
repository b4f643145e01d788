using Grpc.Core;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// The one writer of a connection's request stream (gRPC allows one). It first re-sends what the last broken
/// connection may not have delivered (<see cref="ResendBuffer"/>), then drains the <see cref="OutboundQueue"/>:
/// when the broker takes batches, every outcome queued since the last write goes in one Outcomes message (one
/// frame, one flush).
/// </summary>
internal sealed class OutboundWriter(OutboundQueue outbound, ResendBuffer resend, TaskExecutor executor)
{
    public const int MaxOutcomesPerMessage = 512;

    /// <summary>
    /// Writes until <paramref name="stopWriting"/> (the broker drains) or the shutdown close marker, then completes
    /// the stream. A failed write throws; <paramref name="abort"/> ends the connection.
    /// </summary>
    public async Task RunAsync(
        IClientStreamWriter<WorkerMessage> stream,
        SessionState session,
        CancellationToken stopWriting,
        CancellationToken abort)
    {
        var unsent = resend.TakeUnsent();
        for (var i = 0; i < unsent.Length; i++)
        {
            try
            {
                await WriteAsync(stream, unsent[i], session, abort);
            }
            catch
            {
                resend.ReturnUnsent(unsent.Skip(i + 1));
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
                // Other items stay queued, in order, and nothing more is taken once the broker asked us to stop.
                var batch = new List<OutcomeItem> { first };
                while (batch.Count < MaxOutcomesPerMessage && !stopWriting.IsCancellationRequested
                       && outbound.Reader.TryPeek(out var more) && more is OutcomeItem
                       && outbound.Reader.TryRead(out more))
                {
                    batch.Add((OutcomeItem)more);
                }

                await WriteOutcomesAsync(stream, batch, abort);
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

                session.WorkerClosed = true;
                session.EndReason = "worker stopped";
                close.Flushed.TrySetResult();
                return;
            }

            await WriteAsync(stream, item, session, abort);
        }

        await stream.CompleteAsync();
    }

    private async Task WriteAsync(IClientStreamWriter<WorkerMessage> stream, OutboundItem item, SessionState session, CancellationToken abort)
    {
        var message = Compose(item, session);
        if (message is null)
        {
            return;
        }

        if (item is OutcomeItem outcome)
        {
            resend.Track(outcome);
        }

        await stream.WriteAsync(message, abort);
        if (item is OutcomeItem { Execution: { } execution })
        {
            executor.OnOutcomeWritten(execution);
        }
    }

    private async Task WriteOutcomesAsync(IClientStreamWriter<WorkerMessage> stream, List<OutcomeItem> items, CancellationToken abort)
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

            resend.Track(item);
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

    private WorkerMessage? Compose(OutboundItem item, SessionState session)
    {
        switch (item)
        {
            case OutcomeItem outcome:
                return outcome.Execution is { IsDiscarded: true } ? null : outcome.Message;
            case ProgressItem { Execution: var execution }:
                var report = execution.TakeProgress();
                // A report queued before the handler returned goes out ahead of its outcome (queued after it): the
                // task's last progress is not lost to its own completion. Only a lost lease drops it.
                if (report is null || execution.IsDiscarded)
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
            case CheckpointItem { Execution: var owner, Checkpoint: var checkpoint }:
                if (owner.IsOutcomeDecided)
                {
                    owner.CheckpointAnswered(checkpoint.Sequence, accepted: false, "the attempt is over: the checkpoint was not sent");
                    return null;
                }

                return new WorkerMessage { Checkpoint = checkpoint };
            case HeartbeatItem:
                outbound.HeartbeatTaken();
                return new WorkerMessage { Heartbeat = new Heartbeat { Running = { executor.SnapshotLeases() }, StuckTaskIds = { executor.SnapshotStuck() } } };
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
}
