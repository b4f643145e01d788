using Microsoft.Extensions.Configuration;

namespace TaskQueue.AppHost.Redis;

/// <summary>How the AppHost provides Redis.</summary>
public enum RedisMode
{
    /// <summary>An existing Redis if ConnectionStrings:redis is set; else a container if a runtime is up; else redis-server.</summary>
    Auto,

    /// <summary>A Redis container (Docker or Podman) with a data volume and AOF.</summary>
    Container,

    /// <summary>A local redis-server process, run by Aspire, with AOF in a data directory.</summary>
    Executable,

    /// <summary>An existing Redis named by ConnectionStrings:redis; the AppHost runs none.</summary>
    External,
}

/// <summary>The "Redis" section of the AppHost's configuration, plus ConnectionStrings:redis.</summary>
public sealed record RedisSettings(RedisMode Mode, string? ConnectionString, string DataDirectory, string? ServerPath)
{
    public const string SectionName = "Redis";

    /// <summary>The connection string name services read (ConnectionStrings:redis) and the resource's name.</summary>
    public const string ResourceName = "redis";

    public static RedisSettings From(IConfiguration configuration, string appHostDirectory)
    {
        var section = configuration.GetSection(SectionName);
        var rawMode = section["Mode"];
        var mode = RedisMode.Auto;
        if (!string.IsNullOrWhiteSpace(rawMode) && !Enum.TryParse(rawMode, ignoreCase: true, out mode))
        {
            throw new InvalidOperationException(
                $"Setting 'Redis:Mode' must be auto, container, executable or external; it is '{rawMode}'.");
        }

        var connectionString = configuration.GetConnectionString(ResourceName);
        if (mode == RedisMode.External && string.IsNullOrWhiteSpace(connectionString))
        {
            throw new InvalidOperationException(
                "Setting 'Redis:Mode' is external, but no connection string is set: pass ConnectionStrings:redis " +
                "(e.g. --ConnectionStrings:redis=localhost:6379, or the environment variable ConnectionStrings__redis).");
        }

        // The repository's .data/ folder is git-ignored: AOF files survive restarts there and stay out of commits.
        var dataDirectory = section["DataDirectory"] is { Length: > 0 } configured
            ? Path.GetFullPath(configured, appHostDirectory)
            : Path.GetFullPath(Path.Combine(appHostDirectory, "..", ".data", "redis"));

        return new RedisSettings(mode, string.IsNullOrWhiteSpace(connectionString) ? null : connectionString, dataDirectory, section["ServerPath"]);
    }
}
