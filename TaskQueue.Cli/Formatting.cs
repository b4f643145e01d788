using System.Globalization;
using System.Text;
using TaskQueue.Client;

namespace TaskQueue.Cli;

internal static class Formatting
{
    private const int MaxShownBytes = 2048;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static async Task WriteSnapshotAsync(TextWriter output, TaskSnapshot task)
    {
        await output.WriteLineAsync($"id:               {task.TaskId}");
        await output.WriteLineAsync($"queue:            {task.Queue}");
        await output.WriteLineAsync($"type:             {task.Type}");
        await output.WriteLineAsync($"state:            {task.State}");
        await output.WriteLineAsync($"attempt:          {task.Attempt}/{task.MaxAttempts}");
        await output.WriteLineAsync($"priority:         {task.Priority}");
        await output.WriteLineAsync($"worker:           {task.WorkerId ?? "-"}");
        await output.WriteLineAsync($"cancel requested: {(task.CancelRequested ? "yes" : "no")}");
        await output.WriteLineAsync($"created:          {Time(task.CreatedAt)}");
        await output.WriteLineAsync($"started:          {Time(task.StartedAt)}");
        await output.WriteLineAsync($"finished:         {Time(task.FinishedAt)}");
        await output.WriteLineAsync($"due:              {Time(task.DueAt)}");
        await output.WriteLineAsync($"last error:       {task.LastError ?? "-"}");
        await output.WriteLineAsync($"payload:          {Bytes(task.Payload)}");
        await output.WriteLineAsync($"result:           {Bytes(task.Result)}");
    }

    public static string Time(DateTimeOffset? time) =>
        time?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>Readable text as is; anything else as base64. Long values are cut.</summary>
    public static string Bytes(ReadOnlyMemory<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return "-";
        }

        var shown = bytes.Length > MaxShownBytes ? bytes[..MaxShownBytes] : bytes;
        var suffix = bytes.Length > MaxShownBytes ? $"… ({bytes.Length} bytes)" : string.Empty;
        try
        {
            var text = StrictUtf8.GetString(shown.Span);
            if (!text.Any(c => char.IsControl(c) && c is not '\n' and not '\r' and not '\t'))
            {
                return text + suffix;
            }
        }
        catch (DecoderFallbackException)
        {
            // Binary (or cut inside a character): fall through to base64.
        }

        return "base64:" + Convert.ToBase64String(shown.Span) + suffix;
    }

    public static string Number(double value, string format = "0.##") => value.ToString(format, CultureInfo.InvariantCulture);
}
