using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using TaskQueue.Client.Internal;
using TaskQueue.Protocol.V1;

namespace TaskQueue.Client;

/// <summary>Cron schedules: create or change, read, pause, resume, trigger and delete.</summary>
public sealed partial class TaskQueueClient
{
    /// <summary>
    /// Creates or changes a schedule (admin scope on its queue). A change takes effect at the next slot and never fires a
    /// slot twice; the same definition again changes nothing (<see cref="ScheduleUpsertResult.Unchanged"/>).
    /// </summary>
    public async Task<ScheduleUpsertResult> UpsertScheduleAsync(ScheduleRequest schedule, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        var response = await _client.UpsertScheduleAsync(new UpsertScheduleRequest { Schedule = ToSpec(schedule) }, CallOptions(cancellationToken));
        return new ScheduleUpsertResult(ToInfo(response.Schedule), response.Created, response.Unchanged);
    }

    /// <summary>One schedule (read scope); null when the queue has no schedule of that name.</summary>
    public async Task<ScheduleInfo?> GetScheduleAsync(string queue, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(queue);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        try
        {
            return ToInfo(await _client.GetScheduleAsync(new GetScheduleRequest { Queue = queue, Name = name }, CallOptions(cancellationToken)));
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            return null;
        }
    }

    /// <summary>The schedules of <paramref name="queue"/>, or with none those of every queue the caller may read.</summary>
    public async Task<IReadOnlyList<ScheduleInfo>> ListSchedulesAsync(string? queue = null, CancellationToken cancellationToken = default)
    {
        var response = await _client.ListSchedulesAsync(new ListSchedulesRequest { Queue = queue ?? "" }, CallOptions(cancellationToken));
        return [.. response.Schedules.Select(ToInfo)];
    }

    /// <summary>Deletes a schedule (its tasks stay); false when there was none.</summary>
    public async Task<bool> DeleteScheduleAsync(string queue, string name, CancellationToken cancellationToken = default)
    {
        try
        {
            await _client.DeleteScheduleAsync(new DeleteScheduleRequest { Queue = queue, Name = name }, CallOptions(cancellationToken));
            return true;
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>Pauses a schedule: no slot fires until it resumes. Throws NotFound when there is no such schedule.</summary>
    public async Task<ScheduleInfo> PauseScheduleAsync(string queue, string name, CancellationToken cancellationToken = default) =>
        ToInfo(await _client.PauseScheduleAsync(new PauseScheduleRequest { Queue = queue, Name = name }, CallOptions(cancellationToken)));

    /// <summary>Resumes a schedule at its first slot after now (the slots of the pause do not run).</summary>
    public async Task<ScheduleInfo> ResumeScheduleAsync(string queue, string name, CancellationToken cancellationToken = default) =>
        ToInfo(await _client.ResumeScheduleAsync(new ResumeScheduleRequest { Queue = queue, Name = name }, CallOptions(cancellationToken)));

    /// <summary>Creates the schedule's task now, with an id of its own; returns that id.</summary>
    public async Task<string> TriggerScheduleAsync(string queue, string name, CancellationToken cancellationToken = default) =>
        (await _client.TriggerScheduleAsync(new TriggerScheduleRequest { Queue = queue, Name = name }, CallOptions(cancellationToken))).TaskId;

    private static ScheduleSpec ToSpec(ScheduleRequest s)
    {
        var template = new Protocol.V1.ScheduleTemplate
        {
            Type = s.Type,
            Payload = ByteString.CopyFrom(s.Payload.Span),
            Priority = s.Priority,
            MaxAttempts = s.MaxAttempts ?? 0,
            Group = s.Group ?? "",
        };
        if (s.ExecutionTimeout is { } timeout)
        {
            template.ExecutionTimeout = Duration.FromTimeSpan(timeout);
        }

        if (s.ExpiresAfter is { } expires)
        {
            template.ExpiresAfter = Duration.FromTimeSpan(expires);
        }

        return new ScheduleSpec
        {
            Queue = s.Queue,
            Name = s.Name,
            Cron = s.Cron,
            TimeZone = s.TimeZone ?? "",
            Template = template,
            Overlap = s.Overlap switch
            {
                ScheduleOverlap.Skip => Protocol.V1.ScheduleOverlap.Skip,
                ScheduleOverlap.QueueOne => Protocol.V1.ScheduleOverlap.QueueOne,
                _ => Protocol.V1.ScheduleOverlap.Allow,
            },
            CatchUp = s.CatchUp switch
            {
                ScheduleCatchUp.Skip => Protocol.V1.ScheduleCatchUp.Skip,
                ScheduleCatchUp.All => Protocol.V1.ScheduleCatchUp.All,
                _ => Protocol.V1.ScheduleCatchUp.One,
            },
            CatchUpMax = s.CatchUpMax ?? 0,
        };
    }

    private static ScheduleInfo ToInfo(Protocol.V1.ScheduleInfo info)
    {
        var spec = info.Spec;
        var template = spec.Template ?? new Protocol.V1.ScheduleTemplate();
        return new ScheduleInfo
        {
            Definition = new ScheduleRequest
            {
                Queue = spec.Queue,
                Name = spec.Name,
                Cron = spec.Cron,
                TimeZone = spec.TimeZone.Length == 0 ? null : spec.TimeZone,
                Type = template.Type,
                Payload = template.Payload.Memory,
                Priority = template.Priority,
                MaxAttempts = template.MaxAttempts == 0 ? null : template.MaxAttempts,
                ExecutionTimeout = template.ExecutionTimeout?.ToTimeSpan(),
                ExpiresAfter = template.ExpiresAfter?.ToTimeSpan(),
                Group = template.Group.Length == 0 ? null : template.Group,
                Overlap = spec.Overlap switch
                {
                    Protocol.V1.ScheduleOverlap.Skip => ScheduleOverlap.Skip,
                    Protocol.V1.ScheduleOverlap.QueueOne => ScheduleOverlap.QueueOne,
                    _ => ScheduleOverlap.Allow,
                },
                CatchUp = spec.CatchUp switch
                {
                    Protocol.V1.ScheduleCatchUp.Skip => ScheduleCatchUp.Skip,
                    Protocol.V1.ScheduleCatchUp.All => ScheduleCatchUp.All,
                    _ => ScheduleCatchUp.One,
                },
                CatchUpMax = spec.CatchUpMax,
            },
            Paused = info.Paused,
            NextRun = info.NextRun?.ToDateTimeOffset(),
            LastRun = info.LastRun?.ToDateTimeOffset(),
            LastTaskId = info.LastTaskId.Length == 0 ? null : info.LastTaskId,
            LastTaskState = info.LastTaskState == Protocol.V1.TaskState.Unspecified ? null : ProtocolMapper.ToState(info.LastTaskState),
            BufferedRun = info.BufferedRun?.ToDateTimeOffset(),
            Fired = info.Fired,
            Skipped = info.Skipped,
            Missed = info.Missed,
            Version = info.Version,
            CreatedAt = info.CreatedAt?.ToDateTimeOffset() ?? default,
            UpdatedAt = info.UpdatedAt?.ToDateTimeOffset() ?? default,
        };
    }
}
