using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;

namespace TaskQueue.Dashboard.Pages;

/// <summary>A queue's tasks by state, filtered by type and by text in the id or error, paged by the broker's cursor.</summary>
public sealed class QueueModel(OperatorSession session, TaskSearch search) : PageModel
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
    public string? Text { get; set; }

    [BindProperty(SupportsGet = true)]
    public string? Cursor { get; set; }

    public QueueStatistics? Stats { get; private set; }

    public TaskListPage? Listing { get; private set; }

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
        var page = search.ListAsync(session.Client, new TaskQuery(Name, State, Type, Text, Cursor), cancellationToken);
        (Stats, Listing) = (await stats, await page);
        return Page();
    }

    public string Link(TaskState? state = null, string? cursor = null) =>
        "/Queue?name=" + Uri.EscapeDataString(Name) + "&state=" + (state ?? State)
        + (string.IsNullOrEmpty(Type) ? "" : "&type=" + Uri.EscapeDataString(Type))
        + (string.IsNullOrEmpty(Text) ? "" : "&text=" + Uri.EscapeDataString(Text))
        + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor));
}
