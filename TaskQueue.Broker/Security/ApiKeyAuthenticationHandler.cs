using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Security;

/// <summary>
/// Bearer API keys: the SHA-256 of the presented key looked up among the configured hashes (a lookup, so no
/// timing comparison to get wrong); the caller becomes <c>key:&lt;name&gt;</c> with the key's scopes. Every
/// refusal says the same, so a caller learns nothing about which part was wrong.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyTable keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";

    public const string Refusal = "The credentials are not valid.";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (BearerToken.Read(Request) is not { } token || keys.Find(ApiKeys.Hash(token)) is not { } entry)
        {
            return Task.FromResult(AuthenticateResult.Fail(Refusal));
        }

        var hash = ApiKeys.Hash(token);
        var principal = CallerIdentity.Create(
            "key:" + entry.Name, entry.Scopes.Select(s => s.ToString()), SchemeName, new Claim(CallerIdentity.KeyHashClaim, hash));
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }
}

/// <summary>
/// A request without credentials: with <see cref="SecurityOptions.AllowAnonymous"/> the caller is
/// <c>anonymous</c> with every scope; otherwise it stays unauthenticated (and the gRPC edge answers UNAUTHENTICATED).
/// </summary>
internal sealed class AnonymousAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, IOptions<SecurityOptions> security)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Anonymous";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!security.Value.AllowAnonymous)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var principal = CallerIdentity.Create(CallerIdentity.Anonymous, CallerIdentity.AllScopes, SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName)));
    }
}
