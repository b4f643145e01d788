using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// One task: its record, its failed attempts with their errors, a link to its trace in the Aspire dashboard, Explain's
/// reason while it is not running, and cancel for an admin of its queue.
/// </summary>
public sealed class TaskModel(OperatorSession session, IOptions<DashboardOptions> options, ILogger<TaskModel> logger) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string Id { get; set; } = "";

    public TaskSnapshot? Snapshot { get; private set; }

    public TaskExplanation? Explanation { get; private set; }

    public string? Message { get; private set; }

    /// <summary>The task's trace in the Aspire dashboard; null without one configured or without a traceparent.</summary>
    public string? TraceLink => TraceLinks.For(options.Value.AspireUrl, Snapshot?.TraceParent);

    public bool MayCancel => Snapshot is { IsFinal: false } task && session.Scopes.MayAdmin(task.Queue);

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(Id))
        {
            return NotFound();
        }

        await LoadAsync(cancellationToken);
        return Page();
    }

    public async Task<IActionResult> OnPostCancelAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(Id))
        {
            return NotFound();
        }

        var queue = Id.Split(':', 2)[0];
        try
        {
            var result = await session.Client.CancelAsync(Id, cancellationToken);
            Log.ActionDone(logger, session.Identity, "cancel", queue, Id, 1);
            Message = result.CancelRequested ? "Cancel requested: the worker is told to stop." : $"Cancelled ({result.State}).";
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.ActionRefused(logger, session.Identity, "cancel", queue, ex.StatusCode.ToString());
            throw;
        }

        await LoadAsync(cancellationToken);
        return Page();
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        Snapshot = await session.Client.GetAsync(Id, cancellationToken);
        // Explain says why a task waits; a running or finished one needs no reason.
        if (!Snapshot.IsFinal && Snapshot.State != TaskState.Leased)
        {
            Explanation = await session.Client.ExplainAsync(Id, cancellationToken);
        }
    }
}
