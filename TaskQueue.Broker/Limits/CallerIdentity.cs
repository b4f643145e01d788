using Grpc.Core;

namespace TaskQueue.Broker.Limits;

/// <summary>Who is calling, as authentication named them: "key:&lt;name&gt;", "jwt:&lt;sub&gt;", "cert:&lt;name&gt;", else "anonymous".</summary>
internal static class CallerIdentity
{
    public const string Anonymous = "anonymous";

    public static string Of(ServerCallContext context) =>
        context.GetHttpContext().User.Identity?.Name is { Length: > 0 } name ? name : Anonymous;

    /// <summary>The caller's HTTP/2 connection (several calls share one).</summary>
    public static string ConnectionOf(ServerCallContext context) => context.GetHttpContext().Connection.Id;
}
