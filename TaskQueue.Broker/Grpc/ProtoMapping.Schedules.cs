using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Broker.Schedules;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Broker;

/// <summary>Schedules' conversions between protobuf messages and the book's records.</summary>
internal static partial class ProtoMapping
{
    public static ScheduleDefinition ToDefinition(ScheduleSpec? spec)
    {
        if (spec is null)
        {
            throw new Storage.TaskValidationException("schedule", "schedule is required");
        }

        var template = spec.Template ?? throw new Storage.TaskValidationException("schedule.template", "a schedule needs a task template (its type at least)");
        return new ScheduleDefinition(
            spec.Queue,
            spec.Name,
            spec.Cron,
            spec.TimeZone,
            new Schedules.ScheduleTemplate(template.Type, template.Payload.Memory)
            {
                Priority = template.Priority,
                MaxAttempts = template.MaxAttempts == 0 ? null : template.MaxAttempts,
                ExecutionTimeout = ToTimeSpan(template.ExecutionTimeout, "schedule.template.execution_timeout"),
                ExpiresAfter = ToTimeSpan(template.ExpiresAfter, "schedule.template.expires_after"),
                Group = template.Group,
            })
        {
            Overlap = spec.Overlap switch
            {
                ScheduleOverlap.Unspecified or ScheduleOverlap.Allow => OverlapPolicy.Allow,
                ScheduleOverlap.Skip => OverlapPolicy.Skip,
                ScheduleOverlap.QueueOne => OverlapPolicy.QueueOne,
                _ => throw new Storage.TaskValidationException("schedule.overlap", $"unknown overlap policy {(int)spec.Overlap}"),
            },
            CatchUp = spec.CatchUp switch
            {
                ScheduleCatchUp.Unspecified or ScheduleCatchUp.One => CatchUpPolicy.One,
                ScheduleCatchUp.Skip => CatchUpPolicy.Skip,
                ScheduleCatchUp.All => CatchUpPolicy.All,
                _ => throw new Storage.TaskValidationException("schedule.catch_up", $"unknown catch-up policy {(int)spec.CatchUp}"),
            },
            CatchUpMax = spec.CatchUpMax == 0 ? ScheduleValidation.DefaultCatchUpMax : spec.CatchUpMax,
        };
    }

    public static ScheduleInfo ToProto(ScheduleSnapshot schedule)
    {
        var d = schedule.Definition;
        var template = new Protocol.V1.ScheduleTemplate
        {
            Type = d.Template.Type,
            Payload = UnsafeByteOperations.UnsafeWrap(d.Template.Payload),
            Priority = d.Template.Priority,
            MaxAttempts = d.Template.MaxAttempts ?? 0,
            Group = d.Template.Group,
        };
        if (d.Template.ExecutionTimeout is { } timeout)
        {
            template.ExecutionTimeout = Duration.FromTimeSpan(timeout);
        }

        if (d.Template.ExpiresAfter is { } expires)
        {
            template.ExpiresAfter = Duration.FromTimeSpan(expires);
        }

        var info = new ScheduleInfo
        {
            Spec = new ScheduleSpec
            {
                Queue = d.Queue,
                Name = d.Name,
                Cron = d.Cron,
                TimeZone = d.TimeZone,
                Template = template,
                Overlap = d.Overlap switch
                {
                    OverlapPolicy.Skip => ScheduleOverlap.Skip,
                    OverlapPolicy.QueueOne => ScheduleOverlap.QueueOne,
                    _ => ScheduleOverlap.Allow,
                },
                CatchUp = d.CatchUp switch
                {
                    CatchUpPolicy.Skip => ScheduleCatchUp.Skip,
                    CatchUpPolicy.All => ScheduleCatchUp.All,
                    _ => ScheduleCatchUp.One,
                },
                CatchUpMax = d.CatchUpMax,
            },
            Paused = schedule.Paused,
            LastTaskId = schedule.LastTaskId?.ToString() ?? "",
            LastTaskState = schedule.LastTaskState is { } state ? ToProto(state) : Protocol.V1.TaskState.Unspecified,
            Fired = schedule.Fired,
            Skipped = schedule.Skipped,
            Missed = schedule.Missed,
            Version = schedule.Version,
            CreatedAt = Timestamp.FromDateTimeOffset(schedule.CreatedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(schedule.UpdatedAt),
        };
        if (schedule.NextRun is { } next)
        {
            info.NextRun = Timestamp.FromDateTimeOffset(next);
        }

        if (schedule.LastRun is { } last)
        {
            info.LastRun = Timestamp.FromDateTimeOffset(last);
        }

        if (schedule.BufferedRun is { } buffered)
        {
            info.BufferedRun = Timestamp.FromDateTimeOffset(buffered);
        }

        return info;
    }
}
