namespace Aspire.Hosting.ApplicationModel;

/// <summary>How <c>AddTaskQueue</c> provides the Redis it creates.</summary>
public enum TaskQueueRedisMode
{
    /// <summary>An existing Redis if a connection string is set; else a container if a runtime answers; else redis-server.</summary>
    Auto,

    /// <summary>A Redis container (Docker or Podman) with a data volume and AOF.</summary>
    Container,

    /// <summary>A local redis-server process, run by Aspire, with AOF in a data directory.</summary>
    Executable,

    /// <summary>An existing Redis named by <see cref="TaskQueueRedisOptions.ConnectionString"/>; nothing runs.</summary>
    External,

    /// <summary>
    /// A local Redis Cluster: <see cref="TaskQueueRedisOptions.Primaries"/> redis-server processes with
    /// <c>--cluster-enabled yes</c> (and <see cref="TaskQueueRedisOptions.Replicas"/> replicas of each), run by Aspire,
    /// each with AOF in a data directory of its own, joined into one cluster on their first start.
    /// </summary>
    Cluster,
}

/// <summary>
/// The Redis <c>AddTaskQueue</c> creates when it is not given one with <c>WithRedis</c>. Every choice runs Redis the
/// way TaskQueue needs it: AOF with fsync every second, <c>maxmemory-policy noeviction</c>.
/// </summary>
public sealed class TaskQueueRedisOptions
{
    /// <summary>What to install when there is no way to run Redis.</summary>
    public const string InstallAdvice =
        "Install one of: Docker or Podman (and start it); or redis-server " +
        "(`sudo apt-get install redis-server` on Debian/Ubuntu, `brew install redis` on macOS); " +
        "or point TaskQueue at an existing Redis with a connection string.";

    /// <summary>How to provide Redis. Default: <see cref="TaskQueueRedisMode.Auto"/>.</summary>
    public TaskQueueRedisMode Mode { get; set; } = TaskQueueRedisMode.Auto;

    /// <summary>
    /// An existing Redis (StackExchange.Redis syntax, e.g. <c>localhost:6379</c>). Default: the AppHost's
    /// <c>ConnectionStrings:{name}-redis</c> setting.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Where a local redis-server keeps its AOF files. Default: <c>.data/{name}-redis</c> under the AppHost's
    /// directory (add <c>.data/</c> to .gitignore).
    /// </summary>
    public string? DataDirectory { get; set; }

    /// <summary>The redis-server binary to run. Default: the first on PATH (or in the usual places).</summary>
    public string? ServerPath { get; set; }

    /// <summary>The most primaries (and the most replicas per primary) a local cluster may have.</summary>
    public const int MaxPrimaries = 16;

    /// <inheritdoc cref="MaxPrimaries"/>
    public const int MaxReplicas = 4;

    /// <summary>
    /// In <see cref="TaskQueueRedisMode.Cluster"/> mode, how many primaries share the 16,384 hash slots, from 1 to
    /// <see cref="MaxPrimaries"/>. Default: 3.
    /// </summary>
    public int Primaries { get; set; } = 3;

    /// <summary>
    /// In <see cref="TaskQueueRedisMode.Cluster"/> mode, how many replicas each primary has, from 0 to
    /// <see cref="MaxReplicas"/>. Default: 0.
    /// </summary>
    public int Replicas { get; set; }
}
