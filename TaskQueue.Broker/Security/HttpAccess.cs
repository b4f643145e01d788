using System.Security.Claims;

namespace TaskQueue.Broker.Security;

/// <summary>
/// Authorisation of the JSON endpoints: no valid credentials → 401, a known caller without the scope → 403.
/// /health is never behind it (orchestrators probe it without credentials).
/// </summary>
internal static class HttpAccess
{
    /// <summary>An endpoint filter: the caller needs <paramref name="action"/> on at least one queue.</summary>
    public static TBuilder RequireAnyQueue<TBuilder>(this TBuilder endpoint, string action)
        where TBuilder : IEndpointConventionBuilder =>
        endpoint.AddEndpointFilter(async (context, next) =>
            Refusal(context.HttpContext.User, action) ?? await next(context));

    /// <summary>The 401/403 answer for a caller without <paramref name="action"/> on any queue, or null when it has it.</summary>
    public static IResult? Refusal(ClaimsPrincipal user, string action) =>
        !CallerIdentity.IsAuthenticated(user) ? Results.Unauthorized()
        : !Scopes.AllowAny(CallerIdentity.Scopes(user), action) ? Results.StatusCode(StatusCodes.Status403Forbidden)
        : null;
}
