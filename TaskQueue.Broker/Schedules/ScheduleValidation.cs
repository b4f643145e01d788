using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>Checks of a schedule definition, done before anything reaches Redis.</summary>
public static class ScheduleValidation
{
    /// <summary>The longest schedule name.</summary>
    public const int MaxNameLength = 128;

    /// <summary>The most missed slots a catch-up of policy "all" may run.</summary>
    public const int MaxCatchUpMax = 1000;

    public const int DefaultCatchUpMax = 10;

    /// <summary>A name: 1 to 128 of A-Z a-z 0-9 . _ - (it is part of a Redis key and of the slots' task ids' hash).</summary>
    public static void ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new TaskValidationException("name", $"a schedule name is 1 to {MaxNameLength} characters of A-Z, a-z, 0-9, '.', '_' and '-'");
        }
    }

    /// <summary>Checks everything; returns the parsed slots of the cron expression in its time zone.</summary>
    public static CronSlots Validate(ScheduleDefinition definition, TaskStoreOptions options)
    {
        TaskValidation.ValidateQueueName(definition.Queue);
        ValidateName(definition.Name);
        var slots = CronSlots.Parse(definition.Cron, definition.TimeZone);
        var template = definition.Template;
        // The template is a submit's task: the same rules (type, payload size, priority, attempts, timeouts, group).
        TaskValidation.Validate(
            new NewTask(definition.Queue, template.Type, template.Payload)
            {
                Priority = template.Priority,
                MaxAttempts = template.MaxAttempts,
                ExecutionTimeout = template.ExecutionTimeout,
                ExpiresAfter = template.ExpiresAfter,
                Group = template.Group,
            },
            options);
        if (definition.CatchUpMax is < 1 or > MaxCatchUpMax)
        {
            throw new TaskValidationException("catch_up_max", $"catch-up max must be 1 to {MaxCatchUpMax}");
        }

        if (!Enum.IsDefined(definition.Overlap))
        {
            throw new TaskValidationException("overlap", "unknown overlap policy");
        }

        if (!Enum.IsDefined(definition.CatchUp))
        {
            throw new TaskValidationException("catch_up", "unknown catch-up policy");
        }

        return slots;
    }
}
