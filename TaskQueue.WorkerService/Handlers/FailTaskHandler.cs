using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "fail": the payload is N (UTF-8 text). Attempts 1..N throw a retryable exception; later attempts succeed.
/// Exercises retries and dead-lettering.
/// </summary>
internal sealed class FailTaskHandler : ITaskHandler
{
    public string TaskType => "fail";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var failures = PayloadParsing.ReadNonNegativeInteger(context, "the number of attempts to fail");
        if (context.Attempt <= failures)
        {
            throw new InvalidOperationException($"Planned failure of attempt {context.Attempt} (fails {failures}).");
        }

        return Task.FromResult(TaskResults.FromText($"succeeded on attempt {context.Attempt}"));
    }
}
