using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;
using TaskQueue.Protocol;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// The connected workers, as the brokers' registry in Redis has them: their types and running tasks, and drain (the worker
/// takes no new tasks and stays connected) for an operator with admin on every queue the worker consumes.
/// </summary>
public sealed class WorkersModel(OperatorSession session, ILogger<WorkersModel> logger) : PageModel
{
    public IReadOnlyList<WorkerRow> Workers { get; private set; } = [];

    /// <summary>The workers whose stream is open now (the registry also lists the recently disconnected).</summary>
    public IReadOnlyList<WorkerRow> Connected => [.. Workers.Where(w => w.Status != WorkerStatuses.Disconnected)];

    public async Task OnGetAsync(CancellationToken cancellationToken) => Workers = await session.ListWorkersAsync(cancellationToken);

    /// <summary>
    /// Whether the page offers to drain the worker: connected, not draining yet, and the operator holds admin on each of its
    /// queues (the broker checks the same, and refuses a forged request).
    /// </summary>
    public bool MayDrain(WorkerRow worker) =>
        worker.Status is not (WorkerStatuses.Draining or WorkerStatuses.Disconnected)
        && worker.Queues.Count > 0 && worker.Queues.All(session.Scopes.MayAdmin);

    public static bool IsDraining(WorkerRow worker) => worker.Status == WorkerStatuses.Draining;

    public async Task<IActionResult> OnPostDrainAsync(string? id, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(id))
        {
            return NotFound();
        }

        try
        {
            var drained = await session.Client.DrainWorkerAsync(id, cancellationToken);
            Log.ActionDone(logger, session.Identity, "drain", drained.Broker, "worker:" + id, 1);
            TempData["Notice"] = $"Draining {id}: it takes no new tasks, finishes what it runs and stays connected until it restarts.";
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.ActionRefused(logger, session.Identity, "drain", "worker:" + id, ex.StatusCode.ToString());
            throw;
        }

        return Redirect("/Workers");
    }
}
