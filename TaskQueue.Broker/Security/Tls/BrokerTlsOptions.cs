using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Security.Tls;

/// <summary>
/// The transport settings of the broker's security (configuration section "TaskQueue:Security", which other
/// security settings share): whether plaintext endpoints are refused, and the client certificates (mTLS) that
/// identify callers. The endpoints' certificates are Kestrel's own settings (Kestrel:Certificates:Default, or
/// Kestrel:Endpoints:&lt;name&gt;:Certificate).
/// </summary>
internal sealed partial class BrokerTlsOptions
{
    public const string SectionName = SecurityOptions.SectionName;

    /// <summary>True: the broker refuses to start while any of its endpoints is plaintext (http://).</summary>
    public bool RequireTls { get; set; }

    /// <summary>
    /// Pinned client certificates by name (letters, digits, '-', '_'): a caller showing one of them over TLS is
    /// <c>cert:&lt;name&gt;</c> with its scopes.
    /// </summary>
    public Dictionary<string, ClientCertificatePin> ClientCertificates { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Checks the settings against the broker's <paramref name="endpoints"/> (<see cref="BrokerEndpoints.Read"/>);
    /// throws <see cref="ValidationException"/> naming the first one that is wrong.
    /// </summary>
    public void Validate(IReadOnlyList<(string Name, string Url)> endpoints)
    {
        if (RequireTls && endpoints.FirstOrDefault(endpoint => BrokerEndpoints.IsPlaintext(endpoint.Url)) is { Url: not null } plaintext)
        {
            throw new ValidationException(
                $"{SectionName}:{nameof(RequireTls)} is true, but {plaintext.Name} is plaintext ({plaintext.Url}). Give every endpoint an " +
                "https:// URL and a certificate (Kestrel:Certificates:Default:Path and :KeyPath, or Kestrel:Endpoints:<name>:Certificate), " +
                $"or set {SectionName}:{nameof(RequireTls)}=false.");
        }

        var owners = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, pin) in ClientCertificates)
        {
            var prefix = $"{SectionName}:{nameof(ClientCertificates)}:{name}";
            if (!NamePattern().IsMatch(name))
            {
                throw new ValidationException($"{prefix}: a client certificate's name is letters, digits, '-' and '_'.");
            }

            if (pin.NormalizedThumbprint is not { } thumbprint)
            {
                throw new ValidationException(
                    $"{prefix}:{nameof(ClientCertificatePin.Thumbprint)} must be the certificate's SHA-256 fingerprint: 64 hex digits " +
                    "(colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints it).");
            }

            if (!owners.TryAdd(thumbprint, name))
            {
                throw new ValidationException($"{prefix} pins the same certificate as {owners[thumbprint]}.");
            }

            if (pin.GrantedScopes() is not { Count: > 0 } scopes)
            {
                throw new ValidationException($"{prefix}:{nameof(ClientCertificatePin.Scopes)} must grant at least one scope (e.g. consume:*).");
            }

            if (scopes.FirstOrDefault(scope => !IsScope(scope)) is { } bad)
            {
                throw new ValidationException(
                    $"{prefix}:{nameof(ClientCertificatePin.Scopes)} has '{bad}'; a scope is <action>:<queue pattern>, the action one of " +
                    $"{ScopeActions.Submit}, {ScopeActions.Consume}, {ScopeActions.Read}, {ScopeActions.Admin}.");
            }
        }
    }

    /// <summary>The name and pin of the certificate with this SHA-256 thumbprint (hex, any case); null when it is not pinned.</summary>
    public (string Name, ClientCertificatePin Pin)? Find(string sha256Thumbprint)
    {
        foreach (var (name, pin) in ClientCertificates)
        {
            if (string.Equals(pin.NormalizedThumbprint, sha256Thumbprint, StringComparison.OrdinalIgnoreCase))
            {
                return (name, pin);
            }
        }

        return null;
    }

    private static bool IsScope(string scope) =>
        scope.Split(':', 2) is [var action, { Length: > 0 }]
        && action is ScopeActions.Submit or ScopeActions.Consume or ScopeActions.Read or ScopeActions.Admin;

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();
}

/// <summary>One pinned client certificate: "TaskQueue:Security:ClientCertificates:&lt;name&gt;".</summary>
internal sealed class ClientCertificatePin
{
    /// <summary>The certificate's SHA-256 thumbprint, hex (colons and spaces between bytes are ignored).</summary>
    public string Thumbprint { get; set; } = "";

    /// <summary>The scopes it grants (<c>Scopes:0</c>, <c>Scopes:1</c>, ...; one entry may hold several separated by spaces).</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>The thumbprint as 64 lower-case hex digits; null when it is not one.</summary>
    public string? NormalizedThumbprint
    {
        get
        {
            var hex = new string([.. Thumbprint.Where(c => c is not (':' or ' '))]).ToLowerInvariant();
            return hex.Length == 64 && hex.All(char.IsAsciiHexDigit) ? hex : null;
        }
    }

    /// <summary>Every scope, entries holding several split at spaces.</summary>
    public IReadOnlyList<string> GrantedScopes() =>
        [.. Scopes.SelectMany(entry => entry.Split(' ', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).Distinct(StringComparer.Ordinal)];
}
