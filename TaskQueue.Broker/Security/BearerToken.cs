using Microsoft.Net.Http.Headers;

namespace TaskQueue.Broker.Security;

/// <summary>Reads the credential a caller sent: <c>Authorization: Bearer &lt;api key or JWT&gt;</c>.</summary>
internal static class BearerToken
{
    /// <summary>
    /// Longer tokens are refused unread (an API key is 47 characters, a JWT a few KB). Kestrel's header limits are
    /// raised above this on purpose, so an oversized token gets UNAUTHENTICATED from here rather than a transport error.
    /// </summary>
    public const int MaxLength = 16 * 1024;

    private const string Scheme = "Bearer ";

    /// <summary>True when the request has an Authorization header at all (well-formed or not).</summary>
    public static bool IsPresent(HttpRequest request) => request.Headers.ContainsKey(HeaderNames.Authorization);

    /// <summary>The bearer token, or null when the header is missing, not "Bearer", empty or too long.</summary>
    public static string? Read(HttpRequest request)
    {
        var header = request.Headers.Authorization;
        if (header.Count != 1 || header[0] is not { } value || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = value.AsSpan(Scheme.Length).Trim();
        return token.Length is > 0 and <= MaxLength ? token.ToString() : null;
    }
}
