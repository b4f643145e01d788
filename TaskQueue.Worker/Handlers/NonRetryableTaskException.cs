namespace TaskQueue.Worker.Handlers;

/// <summary>Fails the task for good: the broker dead-letters it instead of retrying.</summary>
public class NonRetryableTaskException : Exception
{
    public NonRetryableTaskException()
        : this("The task failed and must not be retried.")
    {
    }

    public NonRetryableTaskException(string message)
        : base(message)
    {
    }

    public NonRetryableTaskException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
