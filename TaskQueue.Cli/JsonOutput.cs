using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary>
/// <c>--json</c>: one JSON document on stdout per command, camelCase field names that stay put (scripts
/// read them), every field always present (null when unknown), times in UTC ISO 8601.
/// </summary>
internal static class JsonOutput
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static Task WriteTaskAsync(TextWriter output, TaskSnapshot task) =>
        output.WriteLineAsync(JsonSerializer.Serialize(Task(task), CliJsonContext.Default.TaskJson));

    public static Task WriteStatsAsync(TextWriter output, QueueStatistics stats) =>
        output.WriteLineAsync(JsonSerializer.Serialize(
            new QueueStatsJson(
                stats.Queue, stats.Ready, stats.Scheduled, stats.Leased, stats.DeadLettered, stats.Pending,
                stats.Submitted, stats.Completed, stats.Failed, stats.Retried, stats.Expired, stats.Cancelled),
            CliJsonContext.Default.QueueStatsJson));

    public static Task WriteDeadLettersAsync(TextWriter output, string queue, int offset, DeadLetterPage page) =>
        output.WriteLineAsync(JsonSerializer.Serialize(
            new DeadLetterPageJson(queue, offset, page.Total, [.. page.Tasks.Select(Task)]),
            CliJsonContext.Default.DeadLetterPageJson));

    public static Task WriteTaskPageAsync(TextWriter output, string queue, TaskState state, TaskListOrder order, TaskPage page) =>
        output.WriteLineAsync(JsonSerializer.Serialize(
            new TaskPageJson(queue, Name(state), JsonNamingPolicy.CamelCase.ConvertName(order.ToString()), [.. page.Tasks.Select(Task)], page.NextCursor),
            CliJsonContext.Default.TaskPageJson));

    /// <summary>"DeadLettered" → "deadLettered": enum values in the documents' own casing.</summary>
    public static string Name(TaskState state) => JsonNamingPolicy.CamelCase.ConvertName(state.ToString());

    private static TaskJson Task(TaskSnapshot task) => new(
        task.TaskId, task.Queue, task.Type, Name(task.State), task.Attempt, task.MaxAttempts, task.Priority,
        task.WorkerId, task.CancelRequested, task.CreatedAt?.ToUniversalTime(), task.StartedAt?.ToUniversalTime(),
        task.FinishedAt?.ToUniversalTime(), task.DueAt?.ToUniversalTime(), task.LastError, Bytes(task.Payload), Bytes(task.Result));

    private static BytesJson Bytes(ReadOnlyMemory<byte> bytes)
    {
        string? text;
        try
        {
            text = s_strictUtf8.GetString(bytes.Span);
        }
        catch (DecoderFallbackException)
        {
            text = null; // binary: base64 only
        }

        return new BytesJson(bytes.Length, text, Convert.ToBase64String(bytes.Span));
    }
}

/// <summary>Bytes of a payload or result: the length, the UTF-8 text (null when not valid UTF-8), and base64.</summary>
internal sealed record BytesJson(int Length, string? Text, string Base64);

/// <summary>A task, as <c>get --json</c> prints it and <c>dlq list --json</c> lists it.</summary>
internal sealed record TaskJson(
    string TaskId,
    string Queue,
    string Type,
    string State,
    int Attempt,
    int MaxAttempts,
    int Priority,
    string? WorkerId,
    bool CancelRequested,
    DateTimeOffset? CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? DueAt,
    string? LastError,
    BytesJson Payload,
    BytesJson Result);

/// <summary><c>stats --json</c>: current counts, then cumulative counters.</summary>
internal sealed record QueueStatsJson(
    string Queue,
    long Ready,
    long Scheduled,
    long Leased,
    long DeadLettered,
    long Pending,
    long Submitted,
    long Completed,
    long Failed,
    long Retried,
    long Expired,
    long Cancelled);

/// <summary><c>dlq list --json</c>: the page asked for and the total.</summary>
internal sealed record DeadLetterPageJson(string Queue, int Offset, long Total, IReadOnlyList<TaskJson> Tasks);

/// <summary><c>list --json</c>: the page (payload and result empty: <c>get</c> has them) and the cursor of the next, null at the end.</summary>
internal sealed record TaskPageJson(string Queue, string State, string Order, IReadOnlyList<TaskJson> Tasks, string? NextCursor);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(TaskJson))]
[JsonSerializable(typeof(QueueStatsJson))]
[JsonSerializable(typeof(DeadLetterPageJson))]
[JsonSerializable(typeof(TaskPageJson))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
