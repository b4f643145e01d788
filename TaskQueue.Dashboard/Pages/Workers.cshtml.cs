using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Dashboard.Brokers;

namespace TaskQueue.Dashboard.Pages;

/// <summary>The connected workers, as the brokers' registry in Redis has them.</summary>
public sealed class WorkersModel(OperatorSession session) : PageModel
{
    public IReadOnlyList<WorkerRow> Workers { get; private set; } = [];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Workers = await session.ListWorkersAsync(cancellationToken);
}
