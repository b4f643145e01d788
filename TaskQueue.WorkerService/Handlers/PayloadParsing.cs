using System.Globalization;
using TaskQueue.Worker.Handlers;

namespace TaskQueue.WorkerService.Handlers;

internal static class PayloadParsing
{
    /// <summary>Reads the payload as a non-negative integer; anything else is a permanent failure.</summary>
    public static long ReadNonNegativeInteger(TaskContext context, string meaning)
    {
        var text = context.PayloadText.Trim();
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= 0)
        {
            return value;
        }

        // The error travels to the broker, its logs and traces: it says what was wrong, never what the payload holds.
        throw new NonRetryableTaskException(
            $"The '{context.Type}' task expects its payload to be {meaning} as a non-negative integer; it is not ({context.Payload.Length} bytes).");
    }
}
