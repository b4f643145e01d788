using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace TaskQueue.Tests.Security.Tls;

/// <summary>
/// A private CA of the test's own, made with System.Security.Cryptography (no external tools): a server
/// certificate for 127.0.0.1 and localhost, and client certificates, each also written as PEM files (certificate
/// and unencrypted PKCS#8 key) into a temporary folder deleted on dispose.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid s_serverAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid s_clientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private TestCertificates(string name, X509Certificate2 authority)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("taskqueue-tls-").FullName;
        Authority = authority;
        AuthorityPath = WriteCertificate($"{name}-ca", authority);
    }

    /// <summary>The folder the PEM files are in.</summary>
    public string Directory { get; }

    /// <summary>The CA (with its private key).</summary>
    public X509Certificate2 Authority { get; }

    /// <summary>The CA's certificate as a PEM file: what a client is told to trust.</summary>
    public string AuthorityPath { get; }

    /// <summary>A new CA, valid from a week ago for two weeks (room for certificates that are already out of date).</summary>
    public static TestCertificates CreateAuthority(string name = "taskqueue-test")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        return new TestCertificates(name, request.CreateSelfSigned(now.AddDays(-7), now.AddDays(7)));
    }

    /// <summary>A server certificate for 127.0.0.1 and localhost, issued by this CA; its PEM files are written too.</summary>
    public IssuedCertificate IssueServer(string name = "broker") =>
        Issue(name, s_serverAuthentication, san =>
        {
            san.AddIpAddress(IPAddress.Loopback);
            san.AddDnsName("localhost");
        });

    /// <summary>A client certificate (client authentication use) issued by this CA; valid from an hour ago for a day unless told otherwise.</summary>
    public IssuedCertificate IssueClient(string name, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null) =>
        Issue(name, s_clientAuthentication, san => san.AddDnsName(name), notBefore, notAfter);

    public void Dispose()
    {
        Authority.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private IssuedCertificate Issue(
        string name, Oid usage, Action<SubjectAlternativeNameBuilder> names, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], critical: false));
        var san = new SubjectAlternativeNameBuilder();
        names(san);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        using var issued = request.Create(Authority, notBefore ?? now.AddHours(-1), notAfter ?? now.AddDays(1), RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        // Through PKCS#12, so the key is usable by TLS on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null);
        var keyPath = Path.Combine(Directory, $"{name}.key");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return new IssuedCertificate(certificate, WriteCertificate(name, certificate), keyPath);
    }

    private string WriteCertificate(string name, X509Certificate2 certificate)
    {
        var path = Path.Combine(Directory, $"{name}.crt");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }
}

/// <summary>A certificate with its private key, and its PEM files.</summary>
public sealed record IssuedCertificate(X509Certificate2 Certificate, string CertificatePath, string KeyPath)
{
    /// <summary>Its SHA-256 thumbprint, hex: what the broker pins.</summary>
    public string Sha256 => Certificate.GetCertHashString(HashAlgorithmName.SHA256);
}
