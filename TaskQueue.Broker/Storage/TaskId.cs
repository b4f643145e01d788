using System.Diagnostics.CodeAnalysis;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// A task's identity: its queue and an id unique within it (a version-7 GUID, so ids sort by creation).
/// The string form "queue:localid" is what clients see; it carries the queue so every lookup knows
/// which Redis slot to ask.
/// </summary>
public readonly record struct TaskId(string Queue, string LocalId)
{
    public static TaskId New(string queue) => new(queue, Guid.CreateVersion7().ToString("N"));

    public override string ToString() => Queue + ":" + LocalId;

    public static bool TryParse(string? text, [NotNullWhen(true)] out TaskId? id)
    {
        id = null;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var separator = text.LastIndexOf(':');
        if (separator <= 0 || separator == text.Length - 1)
        {
            return false;
        }

        var queue = text[..separator];
        var local = text[(separator + 1)..];
        if (TaskValidation.QueueNameProblem(queue) is not null || !IsLocalId(local))
        {
            return false;
        }

        id = new TaskId(queue, local);
        return true;
    }

    /// <summary>Parses a client-supplied id; a malformed one is bad input.</summary>
    public static TaskId Parse(string? text) =>
        TryParse(text, out var id)
            ? id.Value
            : throw new TaskValidationException("task_id", $"'{Quote(text)}' is not a task id (expected \"queue:id\").");

    // Error texts quote at most this much of what the client sent.
    private static string? Quote(string? text) => text is { Length: > 160 } ? text[..160] + "…" : text;

    private static bool IsLocalId(string local) => local.Length == 32 && local.All(char.IsAsciiHexDigitLower);
}
