using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Sessions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Progress;

/// <summary>
/// Stores a worker's checkpoint and answers it (CheckpointSaved with its sequence): stored while the lease token
/// matches; refused, with LeaseLost after the answer, when the lease moved on (a zombie never overwrites the
/// checkpoint of the attempt that replaced it); refused, lease kept, when it is over
/// <see cref="TaskStoreOptions.MaxCheckpointBytes"/> or Redis is unavailable. Each checkpoint is its own script
/// call: a handler awaits the answer, so it sends one at a time.
/// </summary>
internal sealed class CheckpointWriter(RedisTaskStore store, ProgressWriter progress, ILogger<CheckpointWriter> logger)
{
    /// <summary>Stores and answers; completes once answered and never faults.</summary>
    public async Task SaveAsync(WorkerSession session, TaskCheckpointReport checkpoint, long sequence)
    {
        var taskId = checkpoint.Id.ToString();
        string refusal;
        var leaseLost = false;
        try
        {
            if (checkpoint.Percent >= 0)
            {
                progress.Forget(checkpoint.Id);
            }

            if (await store.CheckpointAsync(checkpoint) == TransitionResult.Ok)
            {
                session.SendCheckpointSaved(taskId, sequence, accepted: true, "");
                return;
            }

            refusal = "the lease is no longer yours: the checkpoint was not stored";
            leaseLost = true;
        }
        catch (ArgumentException ex)
        {
            refusal = ex.Message; // over the size cap: nothing stored, the lease stays
        }
        catch (Exception ex)
        {
            Log.CheckpointFailed(logger, ex, taskId, checkpoint.State.Length);
            refusal = "the broker could not store the checkpoint (Redis unavailable); nothing was stored";
        }

        session.SendCheckpointSaved(taskId, sequence, accepted: false, refusal);
        if (leaseLost)
        {
            session.SendLeaseLost(taskId, checkpoint.Token, refusal);
        }
    }
}
