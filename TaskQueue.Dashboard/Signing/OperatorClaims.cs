using System.Security.Claims;

namespace TaskQueue.Dashboard.Signing;

/// <summary>
/// What the sign-in cookie holds (encrypted and signed by ASP.NET Data Protection, HttpOnly, SameSite=Strict): the
/// identity the broker named, the scopes it granted, and the credential itself, which every broker call sends.
/// </summary>
internal static class OperatorClaims
{
    public const string Scheme = "TaskQueue.Dashboard";
    public const string Scope = "scope";
    public const string Credential = "tq:credential";

    public static ClaimsPrincipal Create(string identity, IEnumerable<string> scopes, string credential)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, identity), new(Credential, credential) };
        claims.AddRange(scopes.Select(scope => new Claim(Scope, scope)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme, ClaimTypes.Name, ClaimTypes.Role));
    }

    public static string Identity(ClaimsPrincipal user) => user.Identity?.Name ?? "";

    public static string? CredentialOf(ClaimsPrincipal user) => user.FindFirst(Credential)?.Value;

    public static OperatorScopes ScopesOf(ClaimsPrincipal user) => new([.. user.FindAll(Scope).Select(claim => claim.Value)]);
}
