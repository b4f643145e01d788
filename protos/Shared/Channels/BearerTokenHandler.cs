using System.Net.Http.Headers;

namespace TaskQueue.Protocol;

/// <summary>
/// Sends the caller's credential on every request of a channel to the broker — unary calls and the worker's stream
/// alike — as <c>Authorization: Bearer &lt;api key or token&gt;</c>. A handler in the channel's chain, so it works over
/// plaintext HTTP/2 too (gRPC call credentials refuse insecure channels). One source file, compiled into the client
/// and the worker libraries (protos/Shared/Channels).
/// </summary>
internal sealed class BearerTokenHandler(Func<CancellationToken, ValueTask<string>>? token) : DelegatingHandler
{
    /// <summary>
    /// The credential source of a set of options: the access-token provider when there is one (asked on every call, so it
    /// can refresh), else the fixed API key; null for neither (calls go without credentials).
    /// </summary>
    public static Func<CancellationToken, ValueTask<string>>? Source(string? apiKey, Func<CancellationToken, ValueTask<string>>? accessTokenProvider) =>
        accessTokenProvider ?? (string.IsNullOrEmpty(apiKey) ? null : _ => ValueTask.FromResult(apiKey));

    /// <summary>Wraps <paramref name="inner"/> when there is a credential to send; otherwise returns it as it is.</summary>
    public static HttpMessageHandler Wrap(HttpMessageHandler inner, Func<CancellationToken, ValueTask<string>>? source) =>
        source is null ? inner : new BearerTokenHandler(source) { InnerHandler = inner };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (token is not null && await token(cancellationToken).ConfigureAwait(false) is { Length: > 0 } value)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", value);
        }

        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
