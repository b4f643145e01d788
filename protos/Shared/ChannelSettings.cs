namespace TaskQueue.Protocol;

/// <summary>
/// The HTTP/2 handler settings of a channel to the broker that the client and the worker share: keep-alive
/// pings notice a dead broker (or a silent network drop) within seconds, not at the next write, and several
/// HTTP/2 connections beat the per-connection stream limit. One source file, compiled into each (protos/Shared);
/// the worker adds settings of its own for its long-lived stream.
/// </summary>
internal static class ChannelSettings
{
    public static readonly TimeSpan KeepAlivePingDelay = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan KeepAlivePingTimeout = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A new handler with the settings above.</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        EnableMultipleHttp2Connections = true,
        KeepAlivePingDelay = KeepAlivePingDelay,
        KeepAlivePingTimeout = KeepAlivePingTimeout,
        ConnectTimeout = ConnectTimeout,
    };
}
