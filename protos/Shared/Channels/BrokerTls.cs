using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;

namespace TaskQueue.Protocol;

/// <summary>
/// How a channel to an https:// broker checks the broker's certificate and shows its own, as the client and the
/// worker both do it (one source file, compiled into each: protos/Shared/Channels). Without settings the system
/// trust store decides, as for any HTTPS call. With a custom CA the broker's certificate must chain to one of the
/// given certificates, which then replace the system store (an X509Chain in CustomRootTrust mode, host name and
/// server-authentication use still checked); nothing is ever accepted unchecked. A client certificate, when
/// given, is offered to the broker for mTLS.
/// </summary>
internal static class BrokerTls
{
    /// <summary>The sub-section of the client's "TaskQueue" and the worker's "Worker" section: "Tls".</summary>
    public const string SectionName = "Tls";

    public const string CaCertificatePathKey = "CaCertificatePath";
    public const string ClientCertificatePathKey = "ClientCertificatePath";
    public const string ClientKeyPathKey = "ClientKeyPath";

    /// <summary>The extended key usage a broker's certificate must allow: TLS web server authentication.</summary>
    private static readonly Oid s_serverAuthentication = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    /// <summary>A section's TLS file paths; nulls for keys that are not set.</summary>
    public static (string? CaCertificatePath, string? ClientCertificatePath, string? ClientKeyPath) ReadPaths(IConfiguration section) =>
        (NullIfEmpty(section[CaCertificatePathKey]), NullIfEmpty(section[ClientCertificatePathKey]), NullIfEmpty(section[ClientKeyPathKey]));

    /// <summary>
    /// What is wrong with these settings (files that cannot be read, a key without its certificate, TLS settings
    /// for a plaintext broker), one sentence each, naming the setting under <paramref name="prefix"/>; empty when
    /// they are usable.
    /// </summary>
    public static IReadOnlyList<string> Check(
        string prefix, string? caCertificatePath, string? clientCertificatePath, string? clientKeyPath,
        bool hasCertificatesInCode, IEnumerable<Uri> brokers)
    {
        var failures = new List<string>();
        if (caCertificatePath is not null && Try(() => LoadCaCertificates(caCertificatePath)) is { } caError)
        {
            failures.Add($"{prefix}:{SectionName}:{CaCertificatePathKey} '{caCertificatePath}' is not a readable PEM or DER certificate file: {caError}");
        }

        if (clientKeyPath is not null && clientCertificatePath is null)
        {
            failures.Add($"{prefix}:{SectionName}:{ClientKeyPathKey} is set without {prefix}:{SectionName}:{ClientCertificatePathKey}.");
        }
        else if (clientCertificatePath is not null && Try(() => LoadClientCertificate(clientCertificatePath, clientKeyPath).Dispose()) is { } clientError)
        {
            failures.Add($"{prefix}:{SectionName}:{ClientCertificatePathKey} '{clientCertificatePath}' (key '{clientKeyPath ?? clientCertificatePath}') " +
                $"is not a readable PEM certificate with its private key: {clientError}");
        }

        var configured = hasCertificatesInCode || caCertificatePath is not null || clientCertificatePath is not null;
        if (configured && brokers.Any(broker => broker is { IsAbsoluteUri: true } && broker.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"{prefix}:{SectionName} settings apply to https:// brokers only; the broker address is http://.");
        }

        return failures;
    }

    /// <summary>The certificates of a PEM file (one or several) or of a DER file.</summary>
    public static X509Certificate2Collection LoadCaCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        var bytes = File.ReadAllBytes(path);
        if (bytes.AsSpan().IndexOf("-----BEGIN"u8) >= 0)
        {
            certificates.ImportFromPemFile(path);
        }
        else
        {
            certificates.Add(X509CertificateLoader.LoadCertificate(bytes));
        }

        return certificates.Count > 0 ? certificates : throw new CryptographicException("The file holds no certificate.");
    }

    /// <summary>
    /// A client certificate from a PEM certificate and a PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1); the
    /// key may be in the certificate's file (<paramref name="keyPath"/> null). Re-imported as PKCS#12 so the key is
    /// usable by TLS on every platform.
    /// </summary>
    public static X509Certificate2 LoadClientCertificate(string certificatePath, string? keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>
    /// Sets up <paramref name="handler"/>'s TLS from options: a certificate given in code wins over a file path.
    /// Files are read here, so a handler made after a CA or client certificate file was replaced uses the new one.
    /// </summary>
    public static void Apply(
        SocketsHttpHandler handler, string? caCertificatePath, X509Certificate2? caCertificate,
        string? clientCertificatePath, string? clientKeyPath, X509Certificate2? clientCertificate)
    {
        var roots = caCertificate is not null ? new X509Certificate2Collection(caCertificate)
            : caCertificatePath is not null ? LoadCaCertificates(caCertificatePath)
            : null;
        var client = clientCertificate ?? (clientCertificatePath is not null ? LoadClientCertificate(clientCertificatePath, clientKeyPath) : null);
        Apply(handler, roots, client);
    }

    /// <summary>
    /// Sets up <paramref name="handler"/>'s TLS: the broker's certificate checked against <paramref name="customRoots"/>
    /// when there are any (else the system store, the handler's default), <paramref name="clientCertificate"/> offered
    /// when there is one.
    /// </summary>
    public static void Apply(SocketsHttpHandler handler, X509Certificate2Collection? customRoots, X509Certificate2? clientCertificate)
    {
        if (customRoots is { Count: > 0 })
        {
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                IsTrusted(customRoots, certificate, chain, errors);
        }

        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            // Offered whatever issuers the broker lists: the broker pins certificates, it does not name CAs.
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
    }

    /// <summary>
    /// True when the broker's certificate was issued for the host we called and chains to one of
    /// <paramref name="customRoots"/>, valid now and allowed for server authentication. Revocation is not checked:
    /// a private CA rarely publishes revocation lists, and its certificates name none.
    /// </summary>
    public static bool IsTrusted(X509Certificate2Collection customRoots, System.Security.Cryptography.X509Certificates.X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        // A missing certificate or a host-name mismatch fails whatever the roots; only the chain is judged again here.
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(customRoots);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        custom.ChainPolicy.ApplicationPolicy.Add(s_serverAuthentication);
        if (chain is not null)
        {
            // Intermediates the broker sent in its handshake.
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        return custom.Build(certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
    }

    private static string? Try(Action load)
    {
        try
        {
            load();
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return ex.Message;
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
