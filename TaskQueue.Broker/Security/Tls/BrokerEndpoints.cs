namespace TaskQueue.Broker.Security.Tls;

/// <summary>
/// The addresses the broker will listen on, read from configuration the way Kestrel reads them: the named
/// endpoints of "Kestrel:Endpoints" when there are any (the broker's "http" and "grpc"), else the hosting URLs
/// (<c>urls</c> / ASPNETCORE_URLS, <c>http_ports</c>, <c>https_ports</c>), else Kestrel's default http://localhost:5000.
/// </summary>
internal static class BrokerEndpoints
{
    /// <summary>Where Kestrel listens when nothing says otherwise.</summary>
    public const string KestrelDefault = "http://localhost:5000";

    /// <summary>Each endpoint's name (the setting it comes from) and URL.</summary>
    public static IReadOnlyList<(string Name, string Url)> Read(IConfiguration configuration)
    {
        var named = configuration.GetSection("Kestrel:Endpoints").GetChildren()
            .Select(endpoint => (Name: $"Kestrel:Endpoints:{endpoint.Key}:Url", Url: endpoint["Url"] ?? ""))
            .Where(endpoint => endpoint.Url.Length > 0)
            .ToList();
        if (named.Count > 0)
        {
            return named;
        }

        var hosting = Split(configuration["urls"]).Select(url => (Name: "urls", Url: url))
            .Concat(Split(configuration["http_ports"]).Select(port => (Name: "http_ports", Url: $"http://*:{port}")))
            .Concat(Split(configuration["https_ports"]).Select(port => (Name: "https_ports", Url: $"https://*:{port}")))
            .ToList();
        return hosting.Count > 0 ? hosting : [("Kestrel's default", KestrelDefault)];
    }

    /// <summary>True when the URL is not https:// (Kestrel serves plaintext on it).</summary>
    public static bool IsPlaintext(string url) => !url.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    private static string[] Split(string? list) =>
        (list ?? "").Split([';', ','], StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
