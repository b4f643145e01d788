using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Broker.Security;

/// <summary>Whether GET /metrics needs credentials.</summary>
public enum MetricsAccess
{
    /// <summary>Read scope on any queue (the default).</summary>
    Read,

    /// <summary>Open to anyone who reaches the HTTP endpoint (a scraper inside a trusted network).</summary>
    Open,
}

/// <summary>
/// Who may call the broker (configuration section "TaskQueue:Security"): API keys stored as SHA-256 hashes, JWT
/// bearer settings, whether /metrics is open, and the explicit switch to run without credentials. Client
/// certificates (TaskQueue:Security:ClientCertificates) have their own options; they count as credentials here.
/// </summary>
public sealed class SecurityOptions
{
    public const string SectionName = "TaskQueue:Security";

    /// <summary>The configuration key of the client certificates section, counted when deciding whether any credential is configured.</summary>
    public const string ClientCertificatesKey = SectionName + ":ClientCertificates";

    /// <summary>Callers without credentials are "anonymous" with every scope. Off unless set; logged as a warning at start.</summary>
    public bool AllowAnonymous { get; set; }

    /// <summary>API keys by name (letters, digits, '-', '_'): the key's SHA-256 and the scopes it grants.</summary>
    public Dictionary<string, ApiKeyOptions> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A JSON file of more API keys, in the same shape, reloaded when it changes (rotation and revocation).</summary>
    public string? KeysFile { get; set; }

    /// <summary>JWT bearer tokens: an OIDC authority, or a symmetric signing key with issuer and audience.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>Whether GET /metrics needs read scope (default) or is open.</summary>
    public MetricsAccess MetricsAccess { get; set; } = MetricsAccess.Read;

    /// <summary>Checks every key, and that no two names share one key (the identity a key stands for must be one).</summary>
    internal static void ValidateKeys(Dictionary<string, ApiKeyOptions> keys)
    {
        foreach (var (name, key) in keys)
        {
            key.Validate(name);
        }

        if (keys.GroupBy(k => k.Value.Sha256!.ToLowerInvariant(), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } shared)
        {
            throw new ValidationException($"{SectionName}:ApiKeys: {string.Join(" and ", shared.Select(k => k.Key))} have the same Sha256; give each caller a key of its own.");
        }
    }

    /// <summary>
    /// Checks every key and the JWT settings, and that some credential is configured (API keys, JWT, or
    /// <paramref name="hasClientCertificates"/>) unless <see cref="AllowAnonymous"/>; throws <see cref="ValidationException"/>
    /// or <see cref="ArgumentException"/> naming the setting.
    /// </summary>
    public void Validate(bool hasClientCertificates)
    {
        ValidateKeys(ApiKeys);
        Jwt.Validate();
        if (!AllowAnonymous && ApiKeys.Count == 0 && !Jwt.IsConfigured && !hasClientCertificates)
        {
            throw new ValidationException(
                "No credentials are configured, and the broker does not run open by accident: configure API keys " +
                "(TaskQueue__Security__ApiKeys__<name>__Sha256 and __Scopes__0, or TaskQueue__Security__KeysFile), JWT " +
                "(TaskQueue__Security__Jwt__...) or client certificates, or set TaskQueue__Security__AllowAnonymous=true to run without.");
        }
    }
}

/// <summary>One API key: what the broker stores instead of the key, and what it grants.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The key's SHA-256, hex (what <c>taskqueue keys new</c> prints).</summary>
    public string? Sha256 { get; set; }

    /// <summary>The scopes granted ("consume:*", "submit:billing-*"); an entry may hold several separated by spaces.</summary>
    public List<string> Scopes { get; set; } = [];

    internal void Validate(string name)
    {
        var setting = $"{SecurityOptions.SectionName}:ApiKeys:{name}";
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            throw new ValidationException($"{setting}: a key name is 1 to 64 letters, digits, '-' or '_'.");
        }

        if (Sha256 is not { Length: 64 } hash || !hash.All(char.IsAsciiHexDigit))
        {
            throw new ValidationException($"{setting}:Sha256 must be the key's SHA-256 as 64 hex digits.");
        }

        if (Security.Scopes.Parse(Scopes, $"{setting}:Scopes").Count == 0)
        {
            throw new ValidationException($"{setting}:Scopes must grant at least one scope.");
        }
    }
}

/// <summary>JWT bearer settings: <see cref="Authority"/> (OIDC discovery) or <see cref="SigningKey"/> (HS256) with <see cref="Issuer"/>; always <see cref="Audience"/>.</summary>
public sealed class JwtOptions
{
    /// <summary>The smallest HS256 key: 256 bits.</summary>
    public const int MinSigningKeyBytes = 32;

    /// <summary>The token issuer's base address; its signing keys come from OIDC discovery.</summary>
    public string? Authority { get; set; }

    /// <summary>A symmetric signing key, base64 (at least 32 bytes), for tokens signed with HS256.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The issuer ("iss") tokens must carry; required with <see cref="SigningKey"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>The audience ("aud") tokens must carry.</summary>
    public string? Audience { get; set; }

    /// <summary>True when JWTs are accepted at all.</summary>
    public bool IsConfigured => !string.IsNullOrEmpty(Authority) || !string.IsNullOrEmpty(SigningKey);

    internal byte[] SigningKeyBytes() => Convert.FromBase64String(SigningKey ?? "");

    internal void Validate()
    {
        const string setting = SecurityOptions.SectionName + ":Jwt";
        if (!IsConfigured)
        {
            if (!string.IsNullOrEmpty(Issuer) || !string.IsNullOrEmpty(Audience))
            {
                throw new ValidationException($"{setting}: Issuer and Audience need Authority or SigningKey.");
            }

            return;
        }

        if (!string.IsNullOrEmpty(Authority) && !string.IsNullOrEmpty(SigningKey))
        {
            throw new ValidationException($"{setting}: set Authority or SigningKey, not both.");
        }

        if (!string.IsNullOrEmpty(Authority) && !Uri.TryCreate(Authority, UriKind.Absolute, out _))
        {
            throw new ValidationException($"{setting}:Authority must be an absolute URL.");
        }

        if (!string.IsNullOrEmpty(SigningKey))
        {
            byte[] key;
            try
            {
                key = SigningKeyBytes();
            }
            catch (FormatException)
            {
                throw new ValidationException($"{setting}:SigningKey must be base64.");
            }

            if (key.Length < MinSigningKeyBytes)
            {
                throw new ValidationException($"{setting}:SigningKey must be at least {MinSigningKeyBytes} bytes (256 bits).");
            }

            if (string.IsNullOrEmpty(Issuer))
            {
                throw new ValidationException($"{setting}:Issuer is required with SigningKey.");
            }
        }

        if (string.IsNullOrEmpty(Audience))
        {
            throw new ValidationException($"{setting}:Audience is required.");
        }
    }
}
