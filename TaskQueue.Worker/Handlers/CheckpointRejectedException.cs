namespace TaskQueue.Worker.Handlers;

/// <summary>
/// <see cref="TaskContext.CheckpointAsync"/> did not store the checkpoint: the lease moved on (the attempt is being
/// stopped: its cancellation token fires, and its outcome will not count), the checkpoint is over the broker's size
/// limit, or no broker answered in time. Let it propagate: a handler that swallows it runs on without a checkpoint
/// the next attempt could resume from. The message says which it was.
/// </summary>
public sealed class CheckpointRejectedException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public CheckpointRejectedException()
        : this("The broker did not store the checkpoint.")
    {
    }

    /// <summary>Creates the exception with the reason the checkpoint was not stored.</summary>
    /// <param name="message">Why the checkpoint was not stored.</param>
    public CheckpointRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the reason and its cause.</summary>
    /// <param name="message">Why the checkpoint was not stored.</param>
    /// <param name="innerException">The exception that caused it.</param>
    public CheckpointRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
