using System.Globalization;
using System.Text;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

/// <summary>
/// "count": works through the payload's number of items ("100", or "100:50" for 50 ms per item, default 100 ms),
/// reporting progress after each and storing a checkpoint (the number of items done) after every tenth, honouring
/// cancellation. A later attempt resumes after the last checkpoint, so after a crash at most the items since it run
/// again. Each item done is one stdout line, written straight through (a SIGKILL loses none): the ledger the
/// checkpoint tests count. Its result: "counted N items from M".
/// </summary>
internal sealed class CountTaskHandler(TimeProvider timeProvider) : ITaskHandler
{
    public const int CheckpointEvery = 10;

    private static readonly TimeSpan s_defaultItemTime = TimeSpan.FromMilliseconds(100);

    public string TaskType => "count";

    public async Task<ReadOnlyMemory<byte>> HandleAsync(TaskContext context, CancellationToken cancellationToken)
    {
        var (items, itemTime) = ReadPayload(context);
        var start = ResumeAt(context, items);
        for (var item = start; item < items; item++)
        {
            await Task.Delay(itemTime, timeProvider, cancellationToken);
            var done = item + 1;
            // Console.Out flushes every line: the line is in the pipe before the next item starts.
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"count {context.TaskId} attempt {context.Attempt} item {done}"));
            var percent = (int)(done * 100L / items);
            if (done % CheckpointEvery == 0 && done < items)
            {
                await context.CheckpointAsync(Encoding.UTF8.GetBytes(done.ToString(CultureInfo.InvariantCulture)), percent, $"{done}/{items}", cancellationToken);
            }
            else
            {
                await context.ReportProgressAsync(percent, $"{done}/{items}", cancellationToken);
            }
        }

        return TaskResults.FromText(string.Create(CultureInfo.InvariantCulture, $"counted {items - start} items from {start}"));
    }

    private static (long Items, TimeSpan ItemTime) ReadPayload(TaskContext context)
    {
        var parts = context.PayloadText.Trim().Split(':');
        var ms = (long)s_defaultItemTime.TotalMilliseconds;
        if (parts.Length is 1 or 2
            && long.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var items) && items > 0
            && (parts.Length == 1 || (long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out ms) && ms >= 0)))
        {
            return (items, TimeSpan.FromMilliseconds(ms));
        }

        throw new NonRetryableTaskException(
            $"The '{context.Type}' task expects its payload to be \"items\" or \"items:milliseconds per item\" (positive integers); it is not ({context.Payload.Length} bytes).");
    }

    /// <summary>The items done by earlier attempts, from their last checkpoint (0 without one).</summary>
    private static long ResumeAt(TaskContext context, long items) =>
        context.HasCheckpoint
        && long.TryParse(Encoding.UTF8.GetString(context.Checkpoint.Span), NumberStyles.Integer, CultureInfo.InvariantCulture, out var done)
        && done >= 0 && done <= items
            ? done
            : 0;
}
