using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.AppHost;

/// <summary>
/// The "Redis" section of the AppHost's configuration, plus ConnectionStrings:redis: how TaskQueue gets its Redis.
/// <see cref="Primaries"/> and <see cref="Replicas"/> (per primary) shape the local cluster of <c>Redis:Mode=cluster</c>.
/// </summary>
public sealed record RedisSettings(TaskQueueRedisMode Mode, string? ConnectionString, string DataDirectory, string? ServerPath, int Primaries, int Replicas)
{
    public const string SectionName = "Redis";

    /// <summary>The connection string an existing Redis is given by (ConnectionStrings:redis).</summary>
    public const string ConnectionStringName = "redis";

    public static RedisSettings From(IConfiguration configuration, string appHostDirectory)
    {
        var section = configuration.GetSection(SectionName);
        var rawMode = section["Mode"];
        var mode = TaskQueueRedisMode.Auto;
        if (!string.IsNullOrWhiteSpace(rawMode) && !Enum.TryParse(rawMode, ignoreCase: true, out mode))
        {
            throw new InvalidOperationException(
                $"Setting 'Redis:Mode' must be auto, container, executable, external or cluster; it is '{rawMode}'.");
        }

        var connectionString = configuration.GetConnectionString(ConnectionStringName);
        if (mode == TaskQueueRedisMode.External && string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                "Setting 'Redis:Mode' is external, but no connection string is set: pass ConnectionStrings:redis " +
                "(e.g. --ConnectionStrings:redis=localhost:6379, or the environment variable ConnectionStrings__redis).");
        }

        // The repository's .data/ folder is git-ignored: AOF files survive restarts there and stay out of commits.
        var dataDirectory = section["DataDirectory"] is { Length: > 0 } configured
            ? Path.GetFullPath(configured, appHostDirectory)
            : Path.GetFullPath(Path.Combine(appHostDirectory, "..", ".data", "redis"));

        return new RedisSettings(
            mode,
            string.IsNullOrWhiteSpace(connectionString) ? null : connectionString,
            dataDirectory,
            section["ServerPath"],
            Primaries: ReadNumber(section, "Primaries", defaultValue: 3, min: 1, max: TaskQueueRedisOptions.MaxPrimaries),
            Replicas: ReadNumber(section, "Replicas", defaultValue: 0, min: 0, max: TaskQueueRedisOptions.MaxReplicas));
    }

    /// <summary>Hands these settings to the TaskQueue integration's Redis.</summary>
    public void Configure(TaskQueueRedisOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Mode = Mode;
        options.ConnectionString = ConnectionString ?? options.ConnectionString;
        options.DataDirectory = DataDirectory;
        options.ServerPath = ServerPath;
        options.Primaries = Primaries;
        options.Replicas = Replicas;
    }

    private static int ReadNumber(IConfigurationSection section, string key, int defaultValue, int min, int max)
    {
        var raw = section[key];
        if (string.IsNullOrWhiteSpace(raw))
        {
            return defaultValue;
        }

        return int.TryParse(raw, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new InvalidOperationException($"Setting '{SectionName}:{key}' must be a whole number from {min} to {max}; it is '{raw}'.");
    }
}
