using System.Globalization;

namespace TaskQueue.Client.Bench;

/// <summary>One <c>INFO everything</c>: memory, command counts (including those scripts run), reads, CPU.</summary>
internal sealed record RedisInfo(
    long UsedMemory,
    long Commands,
    long Reads,
    double CpuSeconds,
    string Version,
    IReadOnlyDictionary<string, long> CommandCalls)
{
    public static async Task<RedisInfo> ReadAsync(RespConnection redis, CancellationToken cancellationToken)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var raw in (await redis.InfoAsync(cancellationToken)).Split('\n'))
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
                // calls=N,usec=...
                var first = value.Split(',')[0];
                calls[name["cmdstat_".Length..]] = Long(first[(first.IndexOf('=', StringComparison.Ordinal) + 1)..]);
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
            calls);
    }

    /// <summary>Calls per command between <paramref name="before"/> and this snapshot.</summary>
    public Dictionary<string, long> CallsSince(RedisInfo before) =>
        CommandCalls
            .Select(c => (c.Key, Calls: c.Value - before.CommandCalls.GetValueOrDefault(c.Key)))
            .Where(c => c.Calls > 0)
            .ToDictionary(c => c.Key, c => c.Calls, StringComparer.Ordinal);

    private static long Long(string? text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static double Double(string? text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
}
