using System.ComponentModel.DataAnnotations;

namespace TaskQueue.Dashboard;

/// <summary>
/// The dashboard's settings ("Dashboard" section). Where the brokers' gRPC API is comes from the client's own settings
/// (<c>TaskQueue:BrokerAddress(es)</c> or the <c>taskqueue</c> connection string, as for any TaskQueue client).
/// </summary>
public sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>
    /// A broker's HTTP endpoint (its /workers list, which the gRPC API does not carry), e.g. http://localhost:5000.
    /// Called with the operator's key like every other call.
    /// </summary>
    [Required]
    public Uri? BrokerHttpAddress { get; set; }

    /// <summary>How often the Overview refreshes its figures by itself: 0.5 to 2 s.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a sign-in lasts without use (sliding); 1 minute to 7 days.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>Tasks per list page: 10 to 500.</summary>
    [Range(10, 500)]
    public int PageSize { get; set; } = 50;

    /// <summary>
    /// How many broker pages a text search (id or error) reads at most per dashboard page before it offers "search on":
    /// 1 to 100. Each is one ListTasks call of 1,000, so a search stays fast on a queue of any size.
    /// </summary>
    [Range(1, 100)]
    public int SearchPages { get; set; } = 10;

    /// <summary>
    /// Where the Data Protection keys that encrypt the sign-in cookie are kept (a folder; share it between replicas).
    /// Empty: the ASP.NET Core default for the user.
    /// </summary>
    public string? KeysDirectory { get; set; }

    /// <summary>
    /// The Aspire dashboard's address (http://127.0.0.1:18888; the AppHost sets it): the Task page links a task's trace
    /// there, at /traces/detail/&lt;trace id&gt;. Empty: no link.
    /// </summary>
    public Uri? AspireUrl { get; set; }

    public void Validate()
    {
        Validator.ValidateObject(this, new ValidationContext(this), validateAllProperties: true);
        if (BrokerHttpAddress is not { IsAbsoluteUri: true } address || (address.Scheme != Uri.UriSchemeHttp && address.Scheme != Uri.UriSchemeHttps))
        {
            throw new ValidationException("BrokerHttpAddress must be an absolute http:// or https:// address (a broker's HTTP endpoint).");
        }

        if (AspireUrl is { } aspire && (!aspire.IsAbsoluteUri || (aspire.Scheme != Uri.UriSchemeHttp && aspire.Scheme != Uri.UriSchemeHttps)))
        {
            throw new ValidationException("AspireUrl must be an absolute http:// or https:// address (the Aspire dashboard), or empty.");
        }

        if (RefreshInterval < TimeSpan.FromMilliseconds(500) || RefreshInterval > TimeSpan.FromSeconds(2))
        {
            throw new ValidationException("RefreshInterval must be 0.5 to 2 seconds.");
        }

        if (SessionLifetime < TimeSpan.FromMinutes(1) || SessionLifetime > TimeSpan.FromDays(7))
        {
            throw new ValidationException("SessionLifetime must be 1 minute to 7 days.");
        }
    }
}
