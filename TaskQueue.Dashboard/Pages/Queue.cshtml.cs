using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// A queue's tasks by state, filtered by type, group and by text in the id or error, paged by the broker's cursor; its flow
/// control (paused, limits, group defaults) and pause / resume for an admin of the queue.
/// </summary>
public sealed class QueueModel(OperatorSession session, TaskSearch search, ILogger<QueueModel> logger) : PageModel
{
    private static readonly TaskState[] s_states =
        [TaskState.Ready, TaskState.Scheduled, TaskState.Leased, TaskState.DeadLettered, TaskState.Completed, TaskState.Cancelled, TaskState.Expired];

    [BindProperty(SupportsGet = true)]
    public string Name { get; set; } = "";

    [BindProperty(SupportsGet = true)]
    public TaskState State { get; set; } = TaskState.Ready;

    [BindProperty(SupportsGet = true)]
    public string? Type { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Group { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Text { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Cursor { get; set; }

    public QueueStatistics? Stats { get; private set; }

    public TaskListPage? Listing { get; private set; }

    public QueueFlowStatus? Flow { get; private set; }

    public bool MayAdmin => session.Scopes.MayAdmin(Name);

    /// <summary>Each listable state with its count where the stats have one.</summary>
    public IEnumerable<(TaskState State, long? Count)> States => s_states.Select(state => (state, state switch
    {
        TaskState.Ready => Stats!.Ready,
        TaskState.Scheduled => Stats!.Scheduled,
        TaskState.Leased => Stats!.Leased,
        TaskState.DeadLettered => Stats!.DeadLettered,
        _ => (long?)null,
    }));

    public async Task<IActionResult> OnGetAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(Name) || !s_states.Contains(State))
        {
            return NotFound();
        }

        // A whole task id typed into the search box: straight to the task.
        if (Text is { Length: > 0 } text && text.Trim().StartsWith(Name + ":", StringComparison.Ordinal) && !text.Contains(' ', StringComparison.Ordinal))
        {
            try
            {
                var task = await session.Client.GetAsync(text.Trim(), cancellationToken);
                return Redirect("/Task?id=" + Uri.EscapeDataString(task.TaskId));
            }
            catch (Grpc.Core.RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.NotFound or Grpc.Core.StatusCode.InvalidArgument)
            {
                // Not an id after all: search for it as text.
            }
        }

        var stats = session.Client.GetQueueStatsAsync(Name, cancellationToken);
        var flow = session.Client.GetQueueFlowAsync(Name, cancellationToken);
        var page = search.ListAsync(session.Client, new TaskQuery(Name, State, Type, Text, Cursor) { Group = Group }, cancellationToken);
        (Stats, Flow, Listing) = (await stats, await flow, await page);
        return Page();
    }

    public Task<IActionResult> OnPostPauseAsync(CancellationToken cancellationToken) =>
        ActAsync("pause", () => session.Client.PauseQueueAsync(Name, cancellationToken), "Paused: nothing new starts; running tasks finish.");

    public Task<IActionResult> OnPostResumeAsync(CancellationToken cancellationToken) =>
        ActAsync("resume", () => session.Client.ResumeQueueAsync(Name, cancellationToken), "Resumed: its ready tasks are dispatched.");

    private async Task<IActionResult> ActAsync(string action, Func<Task<QueueFlowStatus>> act, string done)
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            return NotFound();
        }

        try
        {
            await act();
            Log.ActionDone(logger, session.Identity, action, Name, "queue", 1);
            TempData["Notice"] = done;
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.ActionRefused(logger, session.Identity, action, Name, ex.StatusCode.ToString());
            throw;
        }

        return Redirect(Link(cursor: null));
    }

    /// <summary>A limit as the page shows it: the number, or "none".</summary>
    public static string Limit(double? value, string unit = "") =>
        value is > 0 and var limit ? limit.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + unit : "none";

    public string Link(TaskState? state = null, string? cursor = null) =>
        "/Queue?name=" + Uri.EscapeDataString(Name) + "&state=" + (state ?? State)
        + (string.IsNullOrEmpty(Type) ? "" : "&type=" + Uri.EscapeDataString(Type))
        + (string.IsNullOrEmpty(Group) ? "" : "&group=" + Uri.EscapeDataString(Group))
        + (string.IsNullOrEmpty(Text) ? "" : "&text=" + Uri.EscapeDataString(Text))
        + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
}
