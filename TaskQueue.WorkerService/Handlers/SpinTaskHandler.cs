using System.Globalization;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "spin": loops for the payload's number of milliseconds and IGNORES its cancellation token, the way a handler
/// stuck in a tight loop or a blocking call does; the execution timeout cannot stop it, only the broker's hard
/// timeout takes its lease. Payload "milliseconds" (every attempt spins) or "milliseconds,attempts" (only the
/// first that many attempts spin; later ones return at once). The loop sleeps in short slices: it ignores its
/// token without burning a core of a shared machine.
/// </summary>
internal sealed class SpinTaskHandler(TimeProvider timeProvider) : ITaskHandler
{
    private static readonly TimeSpan s_slice = TimeSpan.FromMilliseconds(5);

    public string TaskType => "spin";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var (milliseconds, spinningAttempts) = Parse(context);
        if (context.Attempt > spinningAttempts)
        {
            return Task.FromResult(TaskResults.FromText($"attempt {context.Attempt} did not spin"));
        }

        var started = timeProvider.GetTimestamp();
        while (timeProvider.GetElapsedTime(started) < TimeSpan.FromMilliseconds(milliseconds))
        {
            Thread.Sleep(s_slice); // deliberately deaf to cancellationToken
        }

        return Task.FromResult(TaskResults.FromText($"spun {milliseconds} ms on attempt {context.Attempt}"));
    }

    private static (long Milliseconds, long Attempts) Parse(TaskContext context)
    {
        var parts = context.PayloadText.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2
            && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var milliseconds) && milliseconds >= 0)
        {
            if (parts.Length == 1)
            {
                return (milliseconds, long.MaxValue);
            }

            if (long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var attempts) && attempts >= 0)
            {
                return (milliseconds, attempts);
            }
        }

        throw new NonRetryableTaskException(
            $"The 'spin' task expects its payload to be \"milliseconds\" or \"milliseconds,attempts\" as non-negative integers; it is not ({context.Payload.Length} bytes).");
    }
}
