using CsCheck;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Tests.Model;

/// <summary>Pauses (true) or resumes (false) the queue.</summary>
internal sealed record PauseOp(bool Pause) : ModelOp
{
    public override string ToString() => Pause ? "Pause the queue" : "Resume the queue";
}

/// <summary>Sets the queue's concurrency limit (0 clears it).</summary>
internal sealed record ConcurrencyLimitOp(int Limit) : ModelOp
{
    public override string ToString() => Limit == 0 ? "Clear the concurrency limit" : $"Concurrency limit {Limit}";
}

internal static class FlowGen
{
    public static Gen<ModelOp> Pause { get; } = Gen.Bool.Select(pause => (ModelOp)new PauseOp(pause));

    public static Gen<ModelOp> ConcurrencyLimit { get; } = Gen.OneOfConst(0, 1, 2, 3).Select(limit => (ModelOp)new ConcurrencyLimitOp(limit));
}

/// <summary>The queue gates of lib/flow.lua: a paused queue leases nothing; the concurrency limit counts every lease (ZCARD LEASES).</summary>
internal sealed partial class QueueModel
{
    public bool Paused { get; set; }

    public int? ConcurrencyLimit { get; set; }

    /// <summary>How many of <paramref name="max"/> a claim may lease now.</summary>
    private int AdmitFlow(int max)
    {
        if (Paused)
        {
            Events.Add("claim of a paused queue");
            return 0;
        }

        if (ConcurrencyLimit is { } limit)
        {
            var free = Math.Max(0, limit - Leased.Count);
            if (free < max)
            {
                Events.Add(free == 0 ? "claim at the concurrency limit" : "claim capped by the concurrency limit");
            }

            return Math.Min(max, free);
        }

        return max;
    }
}

internal sealed partial class ModelRun
{
    private async Task<string> PauseAsync(PauseOp op)
    {
        var flow = new RedisFlowStore(_h.Redis.Connection, _h.Clock);
        var changed = op.Pause ? await flow.PauseAsync(_h.Queue) : await flow.ResumeAsync(_h.Queue);

        Assert.Equal(_model.Paused != op.Pause, changed);
        _model.Paused = op.Pause;
        Assert.Equal(op.Pause, (await flow.GetAsync(_h.Queue)).Paused);
        return changed ? (op.Pause ? "paused" : "resumed") : "no change";
    }

    private async Task<string> LimitAsync(ConcurrencyLimitOp op)
    {
        var flow = new RedisFlowStore(_h.Redis.Connection, _h.Clock);
        await flow.SetLimitsAsync(_h.Queue, new FlowLimits(Concurrency: op.Limit, GroupConcurrency: _model.GroupConcurrency));
        _model.ConcurrencyLimit = op.Limit == 0 ? null : op.Limit;

        var state = await flow.GetAsync(_h.Queue);
        Assert.Equal(_model.ConcurrencyLimit, state.Limits.Concurrency);
        Assert.Equal(_model.Leased.Count, state.Leased);
        return $"{state.Leased} leased";
    }
}
