using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;

namespace TaskQueue.Dashboard.Pages;

/// <summary>The brokers' audit trail, newest first: who did what, when, with which outcome (admin scope, as the broker requires).</summary>
public sealed class AuditModel(OperatorSession session) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? Queue { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Before { get; set; }

    public AuditPage? Entries { get; private set; }

    public bool MayRead => session.Scopes.MayAdminAny;

    public string Identity => session.Identity;

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        if (MayRead)
        {
            Entries = await session.Client.ListAuditEntriesAsync(
                string.IsNullOrWhiteSpace(Queue) ? null : Queue.Trim(), 100, string.IsNullOrEmpty(Before) ? null : Before, cancellationToken);
        }
    }
}
