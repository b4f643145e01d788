using System.Security.Cryptography;
using System.Text;

namespace TaskQueue.Protocol;

/// <summary>
/// The words of TaskQueue's credentials, defined once for the broker, the client, the worker and the hosting
/// integration: how an API key looks, how the broker stores it (only its SHA-256) and where clients and workers
/// read theirs (the scopes a key grants: Scopes.cs).
/// </summary>
internal static class ApiKeys
{
    /// <summary>
    /// Keys made by <see cref="Create"/> start with this (secret scanners can find them). The broker tells the two
    /// kinds of bearer token apart by shape, not by this prefix: a JWT is three base64url parts joined by dots,
    /// anything else is an API key (so generated secrets of any form serve as keys).
    /// </summary>
    public const string Prefix = "tqk_";

    /// <summary>True when a bearer token has a JWT's shape (header.payload.signature); otherwise it is an API key.</summary>
    public static bool LooksLikeJwt(string token) => token.Count(c => c == '.') == 2;

    /// <summary>The configuration key clients and workers read their API key from (environment <c>TaskQueue__ApiKey</c>).</summary>
    public const string ConfigurationKey = "TaskQueue:ApiKey";

    /// <summary>A new key: the prefix and 32 random bytes, base64url (256 bits: a hash of it cannot be guessed back).</summary>
    public static string Create() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))
        .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>What the broker's configuration holds instead of the key: its SHA-256, lower-case hex.</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
