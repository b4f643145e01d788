using System.Globalization;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "noop": does no work. Its result is the wall-clock time the handler started, in Unix microseconds
/// (UTF-8 text), so a benchmark on the same machine can measure submit-to-start latency finer than the
/// millisecond times Redis keeps.
/// </summary>
internal sealed class NoopTaskHandler(TimeProvider timeProvider) : ITaskHandler
{
    public string TaskType => "noop";

    public Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var started = timeProvider.GetUtcNow();
        var micros = (started - DateTimeOffset.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
        return Task.FromResult(TaskResults.FromText(micros.ToString(CultureInfo.InvariantCulture)));
    }
}
