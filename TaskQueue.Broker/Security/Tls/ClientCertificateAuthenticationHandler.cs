using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace TaskQueue.Broker.Security.Tls;

/// <summary>
/// The "Certificate" authentication scheme: a caller that showed a client certificate in its TLS handshake is the
/// pinned identity whose SHA-256 thumbprint matches (<c>cert:&lt;name&gt;</c>, one "scope" claim per scope), while
/// the certificate is within its validity period. The pin is the trust decision, not a CA: the TLS layer lets any
/// client certificate through (having checked that the caller holds its private key), and an unknown, expired or
/// not-yet-valid one fails here, so the caller gets UNAUTHENTICATED (HTTP 401). No certificate: no result, for
/// another scheme to decide. Pins are read on every request, so a configuration reload revokes at once.
/// </summary>
internal sealed class ClientCertificateAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptionsMonitor<BrokerTlsOptions> tls,
    TimeProvider timeProvider)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    /// <summary>The scheme's name, which the broker's policy scheme forwards certificate callers to: "Certificate".</summary>
    public const string SchemeName = "Certificate";

    /// <summary>The identity's prefix: <c>cert:&lt;name&gt;</c>.</summary>
    public const string IdentityPrefix = "cert:";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var certificate = Context.Connection.ClientCertificate ?? await Context.Connection.GetClientCertificateAsync(Context.RequestAborted);
        if (certificate is null)
        {
            return AuthenticateResult.NoResult();
        }

        var thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        if (tls.CurrentValue.Find(thumbprint) is not var (name, pin))
        {
            TlsLog.UnknownClientCertificate(Logger, thumbprint);
            return AuthenticateResult.Fail("The client certificate is not one the broker knows.");
        }

        var now = timeProvider.GetLocalNow().DateTime;
        if (now < certificate.NotBefore || now > certificate.NotAfter)
        {
            TlsLog.ClientCertificateOutOfDate(Logger, name, certificate.NotBefore, certificate.NotAfter);
            return AuthenticateResult.Fail("The client certificate is expired or not yet valid.");
        }

        var principal = CallerIdentity.Create(IdentityPrefix + name, pin.GrantedScopes(), SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }
}
