namespace TaskQueue.Protocol;

/// <summary>The reasons in LeaseLost that a worker acts on (others are human text). Compiled into the broker and the worker.</summary>
internal static class LeaseLostReasons
{
    /// <summary>The attempt ran past its execution timeout plus the broker's grace: the broker failed it and retries the task.</summary>
    public const string Timeout = "timeout";

    /// <summary>
    /// The broker could not settle the worker's report (Redis was unreachable until the lease's deadline): the outcome did
    /// not count, the task runs again. Sent for a task whose outcome the worker already wrote.
    /// </summary>
    public const string NotSettled = "not-settled";
}
