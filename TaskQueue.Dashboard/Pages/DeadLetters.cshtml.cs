using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// A queue's dead letters: find by type and text, inspect (the Task page), replay or purge one, a selection, or all
/// (each behind a confirmation). The broker authorises and audits every action under the operator's identity.
/// </summary>
public sealed class DeadLettersModel(OperatorSession session, TaskSearch search, ILogger<DeadLettersModel> logger) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? Queue { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Type { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Text { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Cursor { get; set; }

    public IReadOnlyList<string> Queues { get; private set; } = [];

    public TaskListPage? Listing { get; private set; }

    public long Total { get; private set; }

    public bool MayAdmin => Queue is not null && session.Scopes.MayAdmin(Queue);

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Queues = await session.Client.ListQueuesAsync(cancellationToken);
        Queue = Queue is { Length: > 0 } ? Queue : Queues.Count > 0 ? Queues[0] : null;
        if (Queue is null)
        {
            return;
        }

        var stats = session.Client.GetQueueStatsAsync(Queue, cancellationToken);
        var listing = search.ListAsync(session.Client, new TaskQuery(Queue, TaskState.DeadLettered, Type, Text, Cursor), cancellationToken);
        Total = (await stats).DeadLettered;
        Listing = await listing;
    }

    public Task<IActionResult> OnPostReplaySelectedAsync(string[] ids, CancellationToken cancellationToken) =>
        ActAsync("replay", ids, () => session.Client.ReplayDeadLettersAsync(Queue!, ids, cancellationToken), "replayed");

    public Task<IActionResult> OnPostPurgeSelectedAsync(string[] ids, CancellationToken cancellationToken) =>
        ActAsync("purge", ids, () => session.Client.PurgeDeadLettersAsync(Queue!, ids, cancellationToken), "purged");

    public Task<IActionResult> OnPostReplayAllAsync(CancellationToken cancellationToken) =>
        ActAsync("replay", null, () => session.Client.ReplayAllDeadLettersAsync(Queue!, cancellationToken), "replayed");

    public Task<IActionResult> OnPostPurgeAllAsync(CancellationToken cancellationToken) =>
        ActAsync("purge", null, () => session.Client.PurgeAllDeadLettersAsync(Queue!, cancellationToken), "purged");

    private async Task<IActionResult> ActAsync(string action, string[]? ids, Func<Task<long>> act, string done)
    {
        if (string.IsNullOrWhiteSpace(Queue) || ids is { Length: 0 } || ids?.Length > 1000)
        {
            TempData["Notice"] = ids is { Length: 0 } ? "Select at least one dead letter." : "Select at most 1,000 dead letters at once.";
            return RedirectToPage(new { queue = Queue });
        }

        try
        {
            var count = await act();
            Log.ActionDone(logger, session.Identity, action, Queue, ids is null ? "all" : $"{ids.Length} selected", count);
            TempData["Notice"] = $"{count} {done}.";
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.ActionRefused(logger, session.Identity, action, Queue, ex.StatusCode.ToString());
            throw;
        }

        return RedirectToPage(new { queue = Queue });
    }
}
