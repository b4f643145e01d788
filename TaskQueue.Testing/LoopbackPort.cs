using System.Net;
using System.Net.Sockets;

namespace TaskQueue.Testing;

/// <summary>Free TCP ports on the loopback interface.</summary>
/// <remarks>
/// Ports come from below the kernel's ephemeral range (32768–60999 on Linux), one after another from a random
/// start, and never twice in one process. Asking the kernel for port 0 instead hands out ephemeral ports: two
/// calls in a row can return the same one, and the run's own outgoing connections (to Redis, to brokers) can
/// take a port between the moment it is handed out and the moment the child process binds it (a broker then
/// fails to start with "address already in use").
/// </remarks>
public static class LoopbackPort
{
    private const int First = 20000;
    private const int Count = 12000;
    private static int s_next = Random.Shared.Next(Count);

    /// <summary>A port nothing listens on right now and that this process has not handed out before.</summary>
    public static int Free()
    {
        for (var tries = 0; tries < Count; tries++)
        {
            var port = First + (int)((uint)Interlocked.Increment(ref s_next) % Count);
            if (IsFree(port))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {First}–{First + Count - 1}");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
