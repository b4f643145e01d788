using System.Collections.Frozen;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace TaskQueue.Broker.Security;

/// <summary>A configured API key: its name and what it grants.</summary>
internal sealed record ApiKeyEntry(string Name, IReadOnlyList<Scope> Scopes);

/// <summary>
/// The API keys the broker accepts now, by SHA-256: built from configuration at start and rebuilt whenever it
/// reloads (a rewritten KeysFile), so a key removed from it stops working at once and open streams notice at
/// their next heartbeat. A reload that does not validate keeps the keys it had (and says so in the log).
/// </summary>
internal sealed class ApiKeyTable : IDisposable
{
    private readonly IConfiguration _configuration;
    private readonly ILogger<ApiKeyTable> _logger;
    private readonly IDisposable _reload;
    private FrozenDictionary<string, ApiKeyEntry> _byHash;

    public ApiKeyTable(IConfiguration configuration, IOptions<SecurityOptions> options, ILogger<ApiKeyTable> logger)
    {
        _configuration = configuration;
        _logger = logger;
        _byHash = Build(options.Value);
        _reload = ChangeToken.OnChange(configuration.GetReloadToken, Reload);
    }

    /// <summary>How many keys there are now.</summary>
    public int Count => _byHash.Count;

    /// <summary>The key whose SHA-256 (lower-case hex) this is, if it is configured now.</summary>
    public ApiKeyEntry? Find(string sha256) => _byHash.GetValueOrDefault(sha256);

    public void Dispose() => _reload.Dispose();

    private void Reload()
    {
        var options = new SecurityOptions();
        try
        {
            _configuration.GetSection(SecurityOptions.SectionName).Bind(options);
            SecurityOptions.ValidateKeys(options.ApiKeys);
        }
        catch (Exception ex) when (ex is System.ComponentModel.DataAnnotations.ValidationException or ArgumentException or InvalidOperationException)
        {
            SecurityLog.KeysReloadRejected(_logger, ex.Message, _byHash.Count);
            return;
        }

        var table = Build(options);
        var before = _byHash;
        _byHash = table;
        SecurityLog.KeysReloaded(_logger, table.Count, before.Keys.Count(hash => !table.ContainsKey(hash)));
    }

    private static FrozenDictionary<string, ApiKeyEntry> Build(SecurityOptions options)
    {
        var table = new Dictionary<string, ApiKeyEntry>(StringComparer.Ordinal);
        foreach (var (name, key) in options.ApiKeys)
        {
            // The validator has refused anything malformed, and two names sharing one key.
            table.TryAdd(key.Sha256!.ToLowerInvariant(), new ApiKeyEntry(name, Scopes.Parse(key.Scopes, name)));
        }

        return table.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
