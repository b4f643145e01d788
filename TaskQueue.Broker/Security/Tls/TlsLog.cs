namespace TaskQueue.Broker.Security.Tls;

/// <summary>The TLS and client-certificate log lines (event ids 300-309). Thumbprints are public; no certificate content is logged.</summary>
internal static partial class TlsLog
{
    [LoggerMessage(300, LogLevel.Debug, "Refused a client certificate with SHA-256 thumbprint {Thumbprint}: it is not pinned")]
    public static partial void UnknownClientCertificate(ILogger logger, string thumbprint);

    [LoggerMessage(301, LogLevel.Debug, "Refused the client certificate of {Name}: it is valid from {NotBefore} to {NotAfter} only")]
    public static partial void ClientCertificateOutOfDate(ILogger logger, string name, DateTime notBefore, DateTime notAfter);
}
