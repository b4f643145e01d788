using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>
/// The "flow" scenario: what groups and limits cost when they do not bind. On one queue and one set of workers, per
/// run, back to back: the plain drain (no flow settings, no groups); the same drain with group and queue limits
/// configured far above what the run reaches and the tasks spread over 10 groups; and 1,000 groups of 100 tasks
/// each (at the default 20,000 tasks; a smaller --tasks gives each group fewer, --tasks / 200, at least one). Figures: each drain's tasks/s and each flow drain's share of the plain drain of the same run (the issue
/// asks for at least 70 %), and each drain's Redis commands and Redis CPU per task: on a loaded machine the
/// throughput of back-to-back drains varies more than the builds compared, while these two hardly move.
/// </summary>
internal sealed partial class BenchRunner
{
    private const int FlowFewGroups = 10;
    private const int FlowManyGroups = 1000;
    private const int FlowTasksPerGroup = 100;

    private async Task FlowScenarioAsync(BrokerEndpoint broker, CancellationToken cancellationToken)
    {
        const string Queue = "bench-flow";
        var flowKey = $"tq:{{{Queue}}}:flow";
        var client = Client(broker);
        var running = new List<ChildProcess>();
        var perGroup = Math.Clamp(settings.Tasks / 200, 1, FlowTasksPerGroup);
        await ResizeAsync(running, settings.FixedWorkers, broker, Queue, cancellationToken);
        await Step($"flow: {settings.Tasks:N0} tasks plain, then with limits that do not bind over {FlowFewGroups} groups, " +
                   $"then {FlowManyGroups:N0} groups x {perGroup}, {settings.FixedWorkers} workers x {settings.Concurrency} slots");
        await WarmUpAsync([client], Queue, cancellationToken, running, [broker]);
        for (var run = 0; run < settings.Runs; run++)
        {
            await redis.CallAsync(cancellationToken, "DEL", flowKey);
            var plain = await DrainOnceAsync([client], Queue, NoopType, _payload, settings.Tasks, running, [broker], cancellationToken);
            _report.Add("flow.plain", $"flow: plain drain, {settings.FixedWorkers} workers", "tasks/s", plain.TasksPerSecond);
            RecordDrainCost("flow.plain", "plain drain", plain);

            // Limits a drain never reaches: every gate is evaluated, none holds anything back.
            await redis.CallAsync(
                cancellationToken, "HSET", flowKey, "concurrency", "1000000", "rate", "1000000000", "burst", "1000000000",
                "group_concurrency", "1000000", "group_rate", "1000000000", "group_burst", "1000000000");
            var few = await DrainOnceAsync(
                [client], Queue, NoopType, _payload, settings.Tasks, running, [broker], cancellationToken, i => "g" + (i % FlowFewGroups));
            _report.Add("flow.limits_groups_10", $"flow: limits configured, not binding, {FlowFewGroups} groups", "tasks/s", few.TasksPerSecond);
            RecordDrainCost("flow.limits_groups_10", $"limits, {FlowFewGroups} groups", few);
            _report.Add("flow.limits_groups_10_ratio", "flow: limits and 10 groups vs the plain drain of the run", "%", 100 * few.TasksPerSecond / plain.TasksPerSecond);

            var many = await DrainOnceAsync(
                [client], Queue, NoopType, _payload, FlowManyGroups * perGroup, running, [broker], cancellationToken,
                i => "tenant-" + (i % FlowManyGroups));
            _report.Add("flow.groups_1000", $"flow: {FlowManyGroups:N0} groups x {perGroup} tasks, limits configured", "tasks/s", many.TasksPerSecond);
            RecordDrainCost("flow.groups_1000", $"{FlowManyGroups:N0} groups", many);
            _report.Add("flow.groups_1000_ratio", "flow: 1,000 groups vs the plain drain of the run", "%", 100 * many.TasksPerSecond / plain.TasksPerSecond);
        }

        await redis.CallAsync(cancellationToken, "DEL", flowKey);
        await system.StopWorkersAsync(running);
    }

    /// <summary>A drain's Redis commands (inside scripts included; the benchmark's own polls taken out) and Redis CPU per task, from the thaw to the last completion.</summary>
    private void RecordDrainCost(string key, string label, DrainResult drain)
    {
        var commands = drain.Drained.TotalCommands - drain.Queued.TotalCommands - drain.OwnCommands;
        _report.Add(key + ".redis_commands_per_task", $"flow: {label}, Redis commands per task (claim+complete)", "commands", commands / drain.Tasks);
        _report.Add(key + ".redis_cpu_per_1000", $"flow: {label}, Redis CPU per 1,000 tasks", "ms", (drain.CpuEnd.Redis - drain.CpuStart.Redis) * 1000 / (drain.Tasks / 1000.0));
    }
}
