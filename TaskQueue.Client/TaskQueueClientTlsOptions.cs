using System.Security.Cryptography.X509Certificates;

namespace TaskQueue.Client;

/// <summary>
/// How the client checks an https:// broker's certificate and which certificate it shows the broker
/// (<see cref="TaskQueueClientOptions.Tls"/>), bound from "TaskQueue:Tls". With nothing set the system trust
/// store decides. A certificate given in code wins over a file path. Settings here with an http:// broker
/// address fail validation: they would be silently ignored.
/// </summary>
public sealed class TaskQueueClientTlsOptions
{
    /// <summary>
    /// A PEM file (one or several certificates) or DER file of the CA that issued the broker's certificate
    /// (<c>TaskQueue:Tls:CaCertificatePath</c>). When set, the broker's certificate must chain to it: it replaces
    /// the system trust store for this client. The host name and the certificate's validity are checked as usual.
    /// </summary>
    public string? CaCertificatePath { get; set; }

    /// <summary>The broker's CA certificate given in code; wins over <see cref="CaCertificatePath"/>.</summary>
    public X509Certificate2? CaCertificate { get; set; }

    /// <summary>
    /// A PEM certificate to show the broker (mTLS; <c>TaskQueue:Tls:ClientCertificatePath</c>). Its private key is
    /// in <see cref="ClientKeyPath"/>, or in the same file when that is not set.
    /// </summary>
    public string? ClientCertificatePath { get; set; }

    /// <summary>The unencrypted PEM private key of <see cref="ClientCertificatePath"/> (<c>TaskQueue:Tls:ClientKeyPath</c>).</summary>
    public string? ClientKeyPath { get; set; }

    /// <summary>A client certificate with its private key given in code; wins over <see cref="ClientCertificatePath"/>.</summary>
    public X509Certificate2? ClientCertificate { get; set; }
}
