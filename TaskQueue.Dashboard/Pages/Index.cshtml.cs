using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using TaskQueue.Dashboard.Brokers;

namespace TaskQueue.Dashboard.Pages;

/// <summary>The Overview: every readable queue's counts, the workers, and (in the page's script) rates from the counters.</summary>
public sealed class IndexModel(OperatorSession session, OverviewReader reader, IOptions<DashboardOptions> options) : PageModel
{
    public OverviewSnapshot? Snapshot { get; private set; }

    public TimeSpan RefreshInterval => options.Value.RefreshInterval;

    public async Task OnGetAsync(CancellationToken cancellationToken) => Snapshot = await reader.ReadAsync(session, cancellationToken);
}
