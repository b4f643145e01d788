namespace TaskQueue.Broker.Storage;

/// <summary>Bad input: nothing was written. The gRPC edge maps it to INVALID_ARGUMENT or RESOURCE_EXHAUSTED.</summary>
public sealed class TaskValidationException(string field, string message, bool tooLarge = false)
    : Exception(message)
{
    public string Field { get; } = field;

    /// <summary>The input exceeded a size limit (rather than being malformed).</summary>
    public bool TooLarge { get; } = tooLarge;
}

/// <summary>Checks of client input, done before anything reaches Redis.</summary>
public static class TaskValidation
{
    /// <summary>The longest queue name, in characters: Unicode scalar values (an emoji is one), not UTF-16 units or bytes.</summary>
    public const int MaxQueueNameLength = 128;
    public const int MaxTypeLength = 128;
    public const int MaxIdempotencyKeyLength = 256;
    public const int MaxUniqueKeyLength = 256;
    public const int MaxDebounceKeyLength = 256;
    public const int MaxGroupLength = 128;

    /// <summary>The longest debounce window: a task is pushed back at most this far by one submit.</summary>
    public static readonly TimeSpan MaxDebounceWindow = TimeSpan.FromDays(1);
    public const int MaxPriority = 9;

    /// <summary>Why <paramref name="queue"/> is not a valid queue name, or null when it is.</summary>
    public static string? QueueNameProblem(string? queue)
    {
        if (string.IsNullOrEmpty(queue))
        {
            return "the queue name is empty";
        }

        // Characters are Unicode scalar values: a UTF-16 pair (an emoji) counts once, a lone surrogate is refused.
        var characters = 0;
        for (var i = 0; i < queue.Length; i += char.IsSurrogatePair(queue, i) ? 2 : 1)
        {
            if (char.IsSurrogate(queue[i]) && !char.IsSurrogatePair(queue, i))
            {
                return "the queue name contains a lone UTF-16 surrogate (not a Unicode character)";
            }

            if (++characters > MaxQueueNameLength)
            {
                return $"the queue name is longer than {MaxQueueNameLength} characters";
            }
        }

        foreach (var c in queue)
        {
            // Braces would break the {queue} hash tag, ':' the key layout and task ids.
            if (c is '{' or '}' or ':' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return $"the queue name contains '{(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())}'; " +
                       "braces, ':', whitespace and control characters are not allowed";
            }
        }

        return null;
    }

    public static void ValidateQueueName(string? queue)
    {
        if (QueueNameProblem(queue) is { } problem)
        {
            throw new TaskValidationException("queue", problem);
        }
    }

    public static void Validate(NewTask task, TaskStoreOptions options)
    {
        ValidateQueueName(task.Queue);
        if (string.IsNullOrWhiteSpace(task.Type) || task.Type.Length > MaxTypeLength || task.Type.Any(char.IsControl))
        {
            throw new TaskValidationException("type", $"the task type must be 1 to {MaxTypeLength} printable characters");
        }

        if (task.Payload.Length > options.MaxPayloadBytes)
        {
            throw new TaskValidationException(
                "payload", $"the payload is {task.Payload.Length} bytes; the limit is {options.MaxPayloadBytes}", tooLarge: true);
        }

        if (task.Priority is < 0 or > MaxPriority)
        {
            throw new TaskValidationException("priority", $"priority must be 0 to {MaxPriority}");
        }

        if (task.MaxAttempts is < 1)
        {
            throw new TaskValidationException("max_attempts", "max attempts must be at least 1");
        }

        if (task.Delay < TimeSpan.Zero)
        {
            throw new TaskValidationException("delay", "the delay is negative");
        }

        if (task.ExecutionTimeout is { } timeout && timeout <= TimeSpan.Zero)
        {
            throw new TaskValidationException("execution_timeout", "the execution timeout must be positive");
        }

        if (task.ExpiresAfter is { } expiry && expiry <= TimeSpan.Zero)
        {
            throw new TaskValidationException("expires_after", "the expiry must be positive");
        }

        if (task.IdempotencyKey is { Length: > MaxIdempotencyKeyLength })
        {
            throw new TaskValidationException("idempotency_key", $"the idempotency key is longer than {MaxIdempotencyKeyLength} characters");
        }

        ValidateUniqueAndDebounce(task);
        if (task.Group is { Length: > 0 } group && (group.Length > MaxGroupLength || group.Any(char.IsControl)))
        {
            // A control character would break the group lane's name (lib/common.lua's GROUP_MARK).
            throw new TaskValidationException("group", $"the group must be at most {MaxGroupLength} printable characters");
        }
    }

    private static void ValidateUniqueAndDebounce(NewTask task)
    {
        if (task.UniqueKey is { Length: > MaxUniqueKeyLength })
        {
            throw new TaskValidationException("unique_key", $"the unique key is longer than {MaxUniqueKeyLength} characters");
        }

        if (task.DebounceKey is { Length: > MaxDebounceKeyLength })
        {
            throw new TaskValidationException("debounce_key", $"the debounce key is longer than {MaxDebounceKeyLength} characters");
        }

        if (!string.IsNullOrEmpty(task.UniqueKey) && !string.IsNullOrEmpty(task.DebounceKey))
        {
            // A debounced task already stands for its key while it waits; unique would refuse the very submits it merges.
            throw new TaskValidationException("debounce_key", "a task takes a unique key or a debounce key, not both");
        }

        var debounced = !string.IsNullOrEmpty(task.DebounceKey);
        if (debounced && task.DebounceWindow is null)
        {
            throw new TaskValidationException("debounce_window", "a debounce key needs a debounce window");
        }

        if (!debounced && task.DebounceWindow is not null)
        {
            throw new TaskValidationException("debounce_window", "a debounce window needs a debounce key");
        }

        if (task.DebounceWindow is { } window && (window < TimeSpan.FromMilliseconds(1) || window > MaxDebounceWindow))
        {
            throw new TaskValidationException("debounce_window", $"the debounce window must be 1 ms to {MaxDebounceWindow.TotalHours:0} hours");
        }
    }
}
