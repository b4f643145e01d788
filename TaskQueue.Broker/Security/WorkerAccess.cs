using System.Security.Claims;
using Grpc.Core;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Security;

/// <summary>
/// The worker stream's authorisation: consume on every queue of the Hello before the session touches Redis,
/// and on every heartbeat whether the credential still holds — an API key removed from (or changed in) the
/// reloaded configuration, a key that lost consume for the session's queues, or an expired JWT ends the stream.
/// </summary>
internal sealed class WorkerAccess(ApiKeyTable keys, TimeProvider time, ILogger<WorkerAccess> logger)
{
    /// <summary>Throws PERMISSION_DENIED unless the caller may consume from every queue.</summary>
    public void DemandConsume(ClaimsPrincipal user, IReadOnlyList<string> queues) =>
        AuthorizationInterceptor.Demand(logger, user, new Permission(ScopeActions.Consume, queues), "WorkerService/Connect");

    /// <summary>Null while the caller's credential still grants consume on <paramref name="queues"/>; otherwise why not, as the status to end the stream with.</summary>
    public Status? Revoked(ClaimsPrincipal user, IReadOnlyList<string> queues)
    {
        if (CallerIdentity.Expires(user) is { } expires && expires <= time.GetUtcNow())
        {
            return new Status(StatusCode.Unauthenticated, "The token expired.");
        }

        if (user.FindFirst(CallerIdentity.KeyHashClaim)?.Value is not { } hash)
        {
            return null; // Not an API key: its scopes came with a credential the broker cannot take back (or anonymous).
        }

        if (keys.Find(hash) is not { } key || "key:" + key.Name != CallerIdentity.Name(user))
        {
            return new Status(StatusCode.Unauthenticated, "The API key was revoked.");
        }

        return Scopes.Allow(key.Scopes, ScopeActions.Consume, queues)
            ? null
            : new Status(StatusCode.PermissionDenied, "The API key no longer grants consume on this worker's queues.");
    }
}
