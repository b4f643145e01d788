using System.Globalization;
using StackExchange.Redis;

namespace TaskQueue.Broker.Benchmarks;

/// <summary>One <c>INFO everything</c> of the benchmark's Redis: command counts and times, and CPU.</summary>
internal sealed record RedisServerStats(
    long TotalCommands,
    double CpuSeconds,
    IReadOnlyDictionary<string, (long Calls, long Usec)> Commands)
{
    public static async Task<RedisServerStats> ReadAsync(IServer server)
    {
        var text = await server.InfoRawAsync("everything") ?? "";
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
                var parts = value.Split(',').Select(p => p.Split('=')).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
                commands[name["cmdstat_".Length..]] = (Long(parts.GetValueOrDefault("calls")), Long(parts.GetValueOrDefault("usec")));
            }
            else
            {
                fields[name] = value;
            }
        }

        return new RedisServerStats(
            Long(fields.GetValueOrDefault("total_commands_processed")),
            Double(fields.GetValueOrDefault("used_cpu_user")) + Double(fields.GetValueOrDefault("used_cpu_sys")),
            commands);
    }

    /// <summary>What happened between <paramref name="before"/> and this snapshot (less the INFO that took <paramref name="before"/>).</summary>
    public RedisServerStats Since(RedisServerStats before) => new(
        TotalCommands - before.TotalCommands - 1,
        CpuSeconds - before.CpuSeconds,
        Commands
            .Where(c => c.Key != "info")
            .Select(c => (c.Key, Calls: c.Value.Calls - before.Commands.GetValueOrDefault(c.Key).Calls, Usec: c.Value.Usec - before.Commands.GetValueOrDefault(c.Key).Usec))
            .Where(c => c.Calls > 0)
            .ToDictionary(c => c.Key, c => (c.Calls, c.Usec), StringComparer.Ordinal));

    /// <summary>Calls of EVALSHA and EVAL: one per store operation.</summary>
    public long ScriptCalls => Calls("evalsha") + Calls("eval");

    public long Calls(string command) => Commands.GetValueOrDefault(command).Calls;

    private static long Long(string? text) => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    private static double Double(string? text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
}
