using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Limits;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// A queue's flow control in Redis (Scripts/setflow.lua writes it, Scripts/readflow.lua reads it; claim.lua and the
/// scripts that end leases enforce it through Scripts/lib/flow.lua). Every change that may let held work through
/// wakes every broker's dispatchers (the scripts publish the queue on the ready channel).
/// </summary>
public sealed class RedisFlowStore
{
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisClockShift _clockShift;
    private readonly int _maxGroupOverrides;

    /// <summary>A store over <paramref name="redis"/>; without <paramref name="limits"/> (tests) the defaults bound the group overrides.</summary>
    public RedisFlowStore(IConnectionMultiplexer redis, RedisClockShift clockShift, IOptions<LimitOptions>? limits = null)
    {
        _redis = redis;
        _clockShift = clockShift;
        _maxGroupOverrides = limits?.Value.MaxGroupOverrides ?? new LimitOptions().MaxGroupOverrides;
    }

    private IDatabase Db => _redis.GetDatabase();

    /// <summary>Pauses the queue: its claims lease nothing from now on, for every broker. False when it was paused already.</summary>
    public async Task<bool> PauseAsync(string queue, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(queue, ["pause"], cancellationToken) == 1;

    /// <summary>Resumes the queue and wakes every broker's dispatchers. False when it was not paused.</summary>
    public async Task<bool> ResumeAsync(string queue, CancellationToken cancellationToken = default) =>
        (long)await RunAsync(queue, ["resume"], cancellationToken) == 1;

    /// <summary>Replaces the queue's limits (null or 0: no limit); throws <see cref="ArgumentException"/> for one out of bounds.</summary>
    public async Task SetLimitsAsync(string queue, FlowLimits limits, CancellationToken cancellationToken = default)
    {
        var valid = FlowValidation.Validate(limits);
        await RunAsync(
            queue,
            ["limits", Text(valid.Concurrency), Text(valid.Rate), Text(valid.Burst), Text(valid.GroupConcurrency), Text(valid.GroupRate), Text(valid.GroupBurst)],
            cancellationToken);
    }

    /// <summary>
    /// Sets one group's overrides (replacing earlier ones); true when the group had none. Past
    /// <see cref="LimitOptions.MaxGroupOverrides"/> groups with overrides a new one is refused (<see cref="LimitExceededException"/>).
    /// </summary>
    public async Task<bool> SetGroupLimitsAsync(string queue, string group, GroupFlowLimits limits, CancellationToken cancellationToken = default)
    {
        FlowValidation.ValidateGroup(group);
        var valid = FlowValidation.Validate(limits);
        var reply = (long)await RunAsync(queue, ["group", group, valid.ToStored(), _maxGroupOverrides], cancellationToken);
        return reply switch
        {
            < 0 => throw new LimitExceededException(
                $"Queue '{queue}' holds {_maxGroupOverrides:N0} groups' overrides, its limit (TaskQueue:Limits:MaxGroupOverrides); clear one first."),
            _ => reply == 1,
        };
    }

    /// <summary>Clears one group's overrides (the queue's group defaults apply again); false when it had none.</summary>
    public async Task<bool> ClearGroupLimitsAsync(string queue, string group, CancellationToken cancellationToken = default)
    {
        FlowValidation.ValidateGroup(group);
        return (long)await RunAsync(queue, ["ungroup", group], cancellationToken) == 1;
    }

    /// <summary>The queue's flow control now, in one read (a queue never configured reads as unlimited and running).</summary>
    public async Task<QueueFlowState> GetAsync(string queue, CancellationToken cancellationToken = default)
    {
        TaskValidation.ValidateQueueName(queue);
        cancellationToken.ThrowIfCancellationRequested();
        var reply = (RedisResult[])(await Db.RunScriptAsync(
            ScriptLibrary.ReadFlow, RedisKeySpace.Of(_redis).ScriptKeys(queue), [(long)_clockShift.Value.TotalMilliseconds]))!;
        var settings = FlowFields.Settings.Select((_, i) => (string?)reply[i]).ToList();
        var (paused, limits) = FlowText.Settings(settings);
        var overrides = new Dictionary<string, GroupFlowLimits>(StringComparer.Ordinal);
        for (var i = FlowFields.Settings.Count + 2; i + 1 < reply.Length; i += 2)
        {
            overrides[(string)reply[i]!] = GroupFlowLimits.FromStored((string)reply[i + 1]!);
        }

        var tokens = (string?)reply[FlowFields.Settings.Count + 1];
        return new QueueFlowState(
            queue, paused, limits, overrides, (long)reply[FlowFields.Settings.Count],
            string.IsNullOrEmpty(tokens) ? null : double.Parse(tokens, System.Globalization.CultureInfo.InvariantCulture));
    }

    private async Task<RedisResult> RunAsync(string queue, RedisValue[] args, CancellationToken cancellationToken)
    {
        TaskValidation.ValidateQueueName(queue);
        cancellationToken.ThrowIfCancellationRequested();
        return await Db.RunScriptAsync(ScriptLibrary.SetFlow, RedisKeySpace.Of(_redis).ScriptKeys(queue), args);
    }

    private static RedisValue Text(int? value) => value is { } v ? v : RedisValue.EmptyString;

    private static RedisValue Text(double? value) => value is { } v ? FlowText.Of(v) : RedisValue.EmptyString;
}
