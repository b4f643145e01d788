using System.Globalization;

namespace TaskQueue.Testing;

/// <summary>
/// One <c>INFO everything</c> of a Redis server: memory, commands processed (those scripts run included),
/// socket reads, CPU, version, and the calls and time of each command (commandstats).
/// </summary>
/// <param name="UsedMemory">used_memory, bytes.</param>
/// <param name="TotalCommands">total_commands_processed: includes the commands scripts call.</param>
/// <param name="Reads">total_reads_processed: socket reads, about one per round trip.</param>
/// <param name="CpuSeconds">used_cpu_user + used_cpu_sys.</param>
/// <param name="Version">redis_version.</param>
/// <param name="Commands">Per command (lower case, e.g. "evalsha"): calls and microseconds spent.</param>
public sealed record RedisInfo(
    long UsedMemory,
    long TotalCommands,
    long Reads,
    double CpuSeconds,
    string Version,
    IReadOnlyDictionary<string, (long Calls, long Usec)> Commands)
{
    /// <summary>Sends INFO everything over <paramref name="redis"/> and parses the reply.</summary>
    public static async Task<RedisInfo> ReadAsync(RespConnection redis, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(redis);
        return Parse(await redis.InfoAsync(cancellationToken));
    }

    /// <summary>Parses the text of an INFO reply (any client's).</summary>
    public static RedisInfo Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var commands = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || colon < 0)
            {
                continue;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..];
            if (name.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                // calls=N,usec=N,usec_per_call=...
                var parts = value.Split(',').Select(p => p.Split('=')).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
                commands[name["cmdstat_".Length..]] = (Long(parts.GetValueOrDefault("calls")), Long(parts.GetValueOrDefault("usec")));
            }
            else
            {
                fields[name] = value;
            }
        }

        return new RedisInfo(
            Long(fields.GetValueOrDefault("used_memory")),
            Long(fields.GetValueOrDefault("total_commands_processed")),
            Long(fields.GetValueOrDefault("total_reads_processed")),
            Double(fields.GetValueOrDefault("used_cpu_user")) + Double(fields.GetValueOrDefault("used_cpu_sys")),
            fields.GetValueOrDefault("redis_version") ?? "unknown",
            commands);
    }

    /// <summary>Calls of EVALSHA and EVAL: one per store operation.</summary>
    public long ScriptCalls => Calls("evalsha") + Calls("eval");

    /// <summary>Calls of <paramref name="command"/> so far (zero if never called).</summary>
    public long Calls(string command) => Commands.GetValueOrDefault(command).Calls;

    /// <summary>Calls per command between <paramref name="before"/> and this snapshot (commands called at least once).</summary>
    public Dictionary<string, long> CallsSince(RedisInfo before)
    {
        ArgumentNullException.ThrowIfNull(before);
        return Commands
            .Select(c => (c.Key, Calls: c.Value.Calls - before.Calls(c.Key)))
            .Where(c => c.Calls > 0)
            .ToDictionary(c => c.Key, c => c.Calls, StringComparer.Ordinal);
    }

    /// <summary>
    /// What happened between <paramref name="before"/> and this snapshot, less the INFO that took
    /// <paramref name="before"/>: commands, CPU, and per-command calls and time (INFO itself left out).
    /// </summary>
    public RedisInfo Since(RedisInfo before)
    {
        ArgumentNullException.ThrowIfNull(before);
        return this with
        {
            TotalCommands = TotalCommands - before.TotalCommands - 1,
            Reads = Reads - before.Reads,
            CpuSeconds = CpuSeconds - before.CpuSeconds,
            UsedMemory = UsedMemory - before.UsedMemory,
            Commands = Commands
                .Where(c => c.Key != "info")
                .Select(c => (c.Key, Calls: c.Value.Calls - before.Calls(c.Key), Usec: c.Value.Usec - before.Commands.GetValueOrDefault(c.Key).Usec))
                .Where(c => c.Calls > 0)
                .ToDictionary(c => c.Key, c => (c.Calls, c.Usec), StringComparer.Ordinal),
        };
    }

    private static long Long(string? text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static double Double(string? text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
}
