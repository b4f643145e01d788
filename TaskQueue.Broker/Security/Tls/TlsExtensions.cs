using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using TaskQueue.Broker.Extensions;

namespace TaskQueue.Broker.Security.Tls;

/// <summary>
/// The broker's TLS: its endpoints serve HTTPS from Kestrel's own certificate settings (an https:// URL in
/// Kestrel:Endpoints:&lt;name&gt;:Url, the certificate in Kestrel:Certificates:Default or per endpoint; HTTP/2 is
/// negotiated by ALPN), <c>TaskQueue:Security:RequireTls</c> refuses plaintext, and pinned client certificates
/// (mTLS) authenticate callers through the "Certificate" scheme.
/// </summary>
internal static class TlsExtensions
{
    /// <summary>
    /// Checks the TLS settings at start (with RequireTls, a plaintext endpoint stops the broker before it listens)
    /// and, when client certificates are pinned, has Kestrel ask for one in every TLS handshake. Asked, not
    /// required: callers with a bearer credential and no certificate still connect.
    /// </summary>
    public static WebApplicationBuilder AddTaskQueueTls(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        builder.Services.AddValidatedOptions<BrokerTlsOptions>(BrokerTlsOptions.SectionName, options => options.Validate(BrokerEndpoints.Read(configuration)));

        // Read once at start: pins added by a later reload work only once Kestrel asks for certificates.
        if (configuration.GetSection($"{BrokerTlsOptions.SectionName}:{nameof(BrokerTlsOptions.ClientCertificates)}").GetChildren().Any())
        {
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(AllowClientCertificates));
        }

        return builder;
    }

    /// <summary>
    /// Adds the "Certificate" scheme (<see cref="ClientCertificateAuthenticationHandler"/>): a pinned client
    /// certificate is the identity <c>cert:&lt;name&gt;</c> with its configured scopes.
    /// </summary>
    public static AuthenticationBuilder AddTaskQueueClientCertificates(this AuthenticationBuilder authentication)
    {
        ArgumentNullException.ThrowIfNull(authentication);
        return authentication.AddScheme<AuthenticationSchemeOptions, ClientCertificateAuthenticationHandler>(
            ClientCertificateAuthenticationHandler.SchemeName, displayName: "Pinned client certificate", configureOptions: null);
    }

    /// <summary>
    /// Any client certificate passes the handshake (TLS still proves the caller holds its key); the
    /// "Certificate" scheme then accepts only pinned ones. A CA check here would turn an unknown certificate into a
    /// failed connection instead of UNAUTHENTICATED.
    /// </summary>
    internal static void AllowClientCertificates(HttpsConnectionAdapterOptions https)
    {
        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (_, _, _) => true;
    }
}
