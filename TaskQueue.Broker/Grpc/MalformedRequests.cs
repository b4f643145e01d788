using System.Collections.Concurrent;
using Grpc.Core;
using TaskQueue.Broker.Diagnostics;

namespace TaskQueue.Broker.Grpc;

/// <summary>
/// Requests whose bytes are not the method's protobuf message: answered INVALID_ARGUMENT, and logged once per
/// connection at warning level without a stack trace, so a flood of garbage cannot flood the log.
/// </summary>
internal sealed class MalformedRequests(IHttpContextAccessor http, ILogger<MalformedRequests> logger)
{
    // Connections already reported. Closed connections are not told apart, so the set is bounded instead:
    // when full it starts over (a connection then gets at most one more line).
    private const int MaxRemembered = 10_000;
    private readonly ConcurrentDictionary<string, byte> _reported = new(StringComparer.Ordinal);

    /// <summary>The answer to a request that does not parse: nothing of it was read.</summary>
    public static RpcException Refusal() =>
        new(new Status(StatusCode.InvalidArgument, "The request is not a valid protobuf message for this method."));

    /// <summary>A request on <paramref name="connection"/> did not parse.</summary>
    public void Report(string connection, string method)
    {
        if (_reported.Count >= MaxRemembered)
        {
            _reported.Clear();
        }

        if (_reported.TryAdd(connection, 0))
        {
            Log.MalformedRequest(logger, method, connection);
        }
    }

    /// <summary>The request being parsed now (a unary request parses before any interceptor: the connection comes from the HTTP context).</summary>
    public void ReportCurrent(string method) => Report(http.HttpContext?.Connection.Id ?? "unknown", method);
}
