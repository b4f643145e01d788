using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TaskQueue.Tests.Security;

/// <summary>A test's own JWT issuer: an HS256 key, the broker settings that trust it, and tokens signed with it.</summary>
internal sealed class TestTokens
{
    public const string Issuer = "https://issuer.tests";
    public const string Audience = "taskqueue";

    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    public Dictionary<string, string> BrokerSettings() => new()
    {
        ["TaskQueue__Security__Jwt__SigningKey"] = Convert.ToBase64String(_key),
        ["TaskQueue__Security__Jwt__Issuer"] = Issuer,
        ["TaskQueue__Security__Jwt__Audience"] = Audience,
    };

    /// <summary>A token for <paramref name="subject"/> with the scopes (space-separated "scope" claim), valid until <paramref name="expires"/>.</summary>
    public string Create(string subject, string scopes, DateTime expires, byte[]? key = null)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            NotBefore = expires < now ? expires.AddMinutes(-10) : now.AddMinutes(-1),
            IssuedAt = expires < now ? expires.AddMinutes(-10) : now.AddMinutes(-1),
            Expires = expires,
            Claims = new Dictionary<string, object> { ["sub"] = subject, ["scope"] = scopes },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key ?? _key), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>A well-formed token signed with another key.</summary>
    public string Forged(string subject, string scopes) => Create(subject, scopes, DateTime.UtcNow.AddHours(1), RandomNumberGenerator.GetBytes(32));
}
