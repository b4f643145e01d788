using System.Globalization;
using System.Security.Claims;
using Grpc.Core;

namespace TaskQueue.Broker.Security;

/// <summary>
/// The shape of an authenticated caller, the same for every kind of credential (the contract the certificate
/// handler follows too): <see cref="ClaimsIdentity.Name"/> is the identity (<c>key:&lt;name&gt;</c>,
/// <c>jwt:&lt;sub&gt;</c>, <c>cert:&lt;name&gt;</c>, <c>anonymous</c>), and one <see cref="ScopeClaim"/> claim per
/// granted scope.
/// </summary>
internal static class CallerIdentity
{
    public const string ScopeClaim = "scope";

    /// <summary>The SHA-256 of the API key a caller presented (never the key): revocation looks it up again.</summary>
    public const string KeyHashClaim = "tq:key-sha256";

    /// <summary>When the caller's credential stops being valid (a JWT's "exp", Unix seconds).</summary>
    public const string ExpiresClaim = "exp";

    public const string Anonymous = "anonymous";

    /// <summary>Every scope: what an anonymous caller gets when the broker allows anonymous access.</summary>
    public static readonly IReadOnlyList<string> AllScopes = ["submit:*", "consume:*", "read:*", "admin:*"];

    public static ClaimsPrincipal Create(string name, IEnumerable<string> scopes, string authenticationType, params Claim[] extra)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name) };
        claims.AddRange(scopes.Select(scope => new Claim(ScopeClaim, scope)));
        claims.AddRange(extra);
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, ClaimTypes.Name, ClaimTypes.Role));
    }

    public static bool IsAuthenticated(ClaimsPrincipal? user) => user?.Identity is { IsAuthenticated: true, Name.Length: > 0 };

    public static string Name(ClaimsPrincipal? user) => user?.Identity?.Name ?? "";

    /// <summary>Who is calling, for logs, limits and the audit trail: the identity's name, <see cref="Anonymous"/> when there is none.</summary>
    public static string Of(ServerCallContext context) => Name(context.GetHttpContext().User) is { Length: > 0 } name ? name : Anonymous;

    /// <summary>The caller's HTTP/2 connection (several calls share one).</summary>
    public static string ConnectionOf(ServerCallContext context) => context.GetHttpContext().Connection.Id;

    /// <summary>The caller's scopes (claims that do not parse grant nothing).</summary>
    public static List<Scope> Scopes(ClaimsPrincipal user)
    {
        var scopes = new List<Scope>();
        foreach (var claim in user.FindAll(ScopeClaim))
        {
            foreach (var text in claim.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (Scope.TryParse(text, out var scope))
                {
                    scopes.Add(scope.Value);
                }
            }
        }

        return scopes;
    }

    public static DateTimeOffset? Expires(ClaimsPrincipal user) =>
        user.FindFirst(ExpiresClaim)?.Value is { } exp && long.TryParse(exp, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
