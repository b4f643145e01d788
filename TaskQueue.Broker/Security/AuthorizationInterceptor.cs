using System.Security.Claims;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace TaskQueue.Broker.Security;

/// <summary>
/// Authorisation at the gRPC edge, for every call before its service runs: no valid credentials →
/// UNAUTHENTICATED; a known caller without the scope <see cref="RpcPermissions"/> names → PERMISSION_DENIED.
/// Streams need an authenticated caller here; the worker stream checks consume for its Hello's queues itself
/// (<see cref="WorkerAccess"/>), since the queues come with its first message. Anything else is refused.
/// </summary>
internal sealed class AuthorizationInterceptor(ILogger<AuthorizationInterceptor> logger) : Interceptor
{
    /// <summary>The one bidirectional stream there is; it authorises its own first message.</summary>
    private const string WorkerConnect = "/taskqueue.v1.WorkerService/Connect";

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        var user = Authenticated(context);
        var permission = RpcPermissions.For(request)
            ?? throw new RpcException(new Status(StatusCode.PermissionDenied, $"{context.Method} is not open to any scope."));
        Demand(logger, user, permission, context.Method);
        return continuation(request, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticated(context);
        return context.Method == WorkerConnect
            ? continuation(requestStream, responseStream, context)
            : throw new RpcException(new Status(StatusCode.PermissionDenied, $"{context.Method} is not open to any scope."));
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticated(context);
        throw new RpcException(new Status(StatusCode.PermissionDenied, $"{context.Method} is not open to any scope."));
    }

    /// <summary>A server stream (Watch) has one request, authorised as a unary call's is.</summary>
    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var user = Authenticated(context);
        var permission = RpcPermissions.For(request)
            ?? throw new RpcException(new Status(StatusCode.PermissionDenied, $"{context.Method} is not open to any scope."));
        Demand(logger, user, permission, context.Method);
        return continuation(request, responseStream, context);
    }

    /// <summary>Throws PERMISSION_DENIED unless the caller's scopes allow <paramref name="permission"/>.</summary>
    public static void Demand(ILogger logger, ClaimsPrincipal user, Permission permission, string method)
    {
        var scopes = CallerIdentity.Scopes(user);
        var allowed = permission.NeedsNoScope
            || (permission.AnyQueue
                ? Scopes.AllowAny(scopes, permission.Action)
                : Scopes.Allow(scopes, permission.Action, permission.Queues));
        if (!allowed)
        {
            SecurityLog.PermissionDenied(logger, CallerIdentity.Name(user), permission.Action, string.Join(",", permission.Queues), method);
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"{CallerIdentity.Name(user)} may not {permission}."));
        }
    }

    private static ClaimsPrincipal Authenticated(ServerCallContext context)
    {
        var user = context.GetHttpContext().User;
        return CallerIdentity.IsAuthenticated(user)
            ? user
            : throw new RpcException(new Status(StatusCode.Unauthenticated, "Valid credentials are required (Authorization: Bearer <api key or token>)."));
    }
}
