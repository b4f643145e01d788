using System.Net;
using System.Net.Sockets;

namespace TaskQueue.Testing;

/// <summary>Free TCP ports on the loopback interface.</summary>
public static class LoopbackPort
{
    /// <summary>A port nothing listens on right now (the OS picks it; another process could still take it).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
