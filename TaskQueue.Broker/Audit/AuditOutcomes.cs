using Grpc.Core;
using TaskQueue.Broker.Grpc;

namespace TaskQueue.Broker.Audit;

/// <summary>The outcome words of audit entries: "ok" (with what was done), or why the action did not happen.</summary>
internal static class AuditOutcomes
{
    public const string Ok = "ok";
    public const string Denied = "denied";

    /// <summary>The outcome of an action that threw <paramref name="exception"/>: its status, in kebab case ("not-found").</summary>
    public static string Of(Exception exception, CancellationToken callToken)
    {
        if (exception is OperationCanceledException && callToken.IsCancellationRequested)
        {
            return "cancelled";
        }

        var status = exception as RpcException ?? ErrorMappingInterceptor.Map(exception);
        return status?.StatusCode switch
        {
            null => "error",
            StatusCode.PermissionDenied => Denied,
            StatusCode.Unauthenticated => "unauthenticated",
            var code => Kebab(code.ToString()!),
        };
    }

    private static string Kebab(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "-" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
