namespace TaskQueue.Worker.Handlers;

/// <summary>
/// Fails the task for good: the broker dead-letters it instead of retrying. Its message becomes the task's
/// error, which clients, logs and traces show: keep payload data and secrets out of it.
/// </summary>
public class NonRetryableTaskException : Exception
{
    /// <summary>Creates the exception with a generic message.</summary>
    public NonRetryableTaskException()
        : this("The task failed and must not be retried.")
    {
    }

    /// <summary>Creates the exception with the task's error message.</summary>
    /// <param name="message">Why the task failed.</param>
    public NonRetryableTaskException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the task's error message and its cause.</summary>
    /// <param name="message">Why the task failed.</param>
    /// <param name="innerException">The exception that caused the failure.</param>
    public NonRetryableTaskException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
