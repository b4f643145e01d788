using Google.Protobuf;
using TaskQueue.Protocol.V1;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// A handler's checkpoint on its way (TaskContext.CheckpointAsync): queued for the stream writer with a sequence,
/// then awaited until the broker answers CheckpointSaved (bounded by <see cref="AnswerTimeout"/>). A refusal throws
/// <see cref="CheckpointRejectedException"/> with the broker's reason.
/// </summary>
internal static class TaskCheckpoints
{
    /// <summary>How long a handler waits for the broker to answer a checkpoint (a reconnect in between re-sends it).</summary>
    public static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    public static async Task SaveAsync(
        TaskExecution execution, OutboundQueue outbound, TimeProvider time, ReadOnlyMemory<byte> state, int percent, string? message,
        CancellationToken cancellationToken)
    {
        if (execution.IsOutcomeDecided)
        {
            throw new CheckpointRejectedException("The attempt is over (its lease was lost or it was handed back): the checkpoint was not sent.");
        }

        var (checkpoint, answer) = execution.BeginCheckpoint(sequence => new TaskCheckpoint
        {
            TaskId = execution.TaskId,
            LeaseToken = execution.LeaseToken,
            State = ByteString.CopyFrom(state.Span),
            Percent = percent,
            Message = message ?? "",
            Sequence = sequence,
        });
        outbound.Enqueue(new CheckpointItem(execution, checkpoint));
        CheckpointAnswer result;
        try
        {
            result = await answer.WaitAsync(AnswerTimeout, time, cancellationToken);
        }
        catch (OperationCanceledException) when (answer.IsCompletedSuccessfully)
        {
            // A lost lease refuses the checkpoint, then cancels the handler: the refusal is the news.
            result = await answer;
        }
        catch (TimeoutException)
        {
            throw new CheckpointRejectedException(
                $"No broker answered the checkpoint within {AnswerTimeout.TotalSeconds:0} s: it may or may not be stored.");
        }
        finally
        {
            // No longer awaited (answered, timed out or cancelled): not re-sent on a reconnect.
            execution.CheckpointAnswered(checkpoint.Sequence, accepted: false, "");
        }

        if (!result.Accepted)
        {
            throw new CheckpointRejectedException($"The broker did not store the checkpoint: {result.Reason}");
        }
    }
}
