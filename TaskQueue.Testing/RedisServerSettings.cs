using System.Globalization;

namespace TaskQueue.Testing;

/// <summary>
/// The redis-server settings TaskQueue runs with, written down once: what the README's "Redis settings"
/// describe and docker-compose.yml's redis service passes (a test compares them). Tests and benchmarks
/// start their private servers from these.
/// </summary>
public static class RedisServerSettings
{
    /// <summary>
    /// The product's settings. AOF with an fsync every second: an acknowledged task survives a Redis crash
    /// (at most the last second is lost on a power cut). noeviction: a full Redis refuses writes instead of
    /// dropping tasks. hash-max-listpack-value 1024: task hashes with payloads up to 1 KiB stay compact.
    /// </summary>
    public static IReadOnlyList<string> Product { get; } =
    [
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--maxmemory-policy", "noeviction",
        "--hash-max-listpack-value", "1024",
    ];

    /// <summary>Turns the append-only file off (and RDB snapshots stay off): for tests that never restart Redis.</summary>
    public static IReadOnlyList<string> NoPersistence { get; } = ["--appendonly", "no"];

    /// <summary>
    /// Requires <paramref name="password"/> of every client (the default user's password). On the command line, so
    /// visible to <c>ps</c> on this machine: for test servers; the AppHost's Redis reads its password from a file.
    /// </summary>
    public static IReadOnlyList<string> RequirePassword(string password) => ["--requirepass", password];

    /// <summary>
    /// The whole command line of a private server: loopback only on <paramref name="port"/>, data in
    /// <paramref name="directory"/>, no RDB snapshots, in the foreground, the <see cref="Product"/> settings,
    /// then <paramref name="extra"/> (later arguments win, so extra settings override the product's).
    /// </summary>
    public static IReadOnlyList<string> PrivateServer(int port, string directory, IEnumerable<string>? extra = null) =>
    [
        "--port", port.ToString(CultureInfo.InvariantCulture),
        "--bind", "127.0.0.1",
        "--dir", directory,
        "--save", "",
        "--daemonize", "no",
        .. Product,
        .. extra ?? [],
    ];
}
