using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// Every schedule of the queues the operator may read (ListSchedules): cron, time zone, the next runs, the last slot
/// and its task's outcome, paused; pause / resume and trigger now for an admin of the schedule's queue.
/// </summary>
public sealed class SchedulesModel(OperatorSession session, ILogger<SchedulesModel> logger) : PageModel
{
    /// <summary>How many upcoming runs a row shows.</summary>
    public const int NextRuns = 3;

    [BindProperty(SupportsGet = true)]
    public string? Queue { get; set; }

    [BindProperty]
    public string? Name { get; set; }

    public IReadOnlyList<ScheduleInfo> Schedules { get; private set; } = [];

    public bool MayAdmin(ScheduleInfo schedule) => session.Scopes.MayAdmin(schedule.Definition.Queue);

    public static IReadOnlyList<DateTimeOffset> Upcoming(ScheduleInfo schedule) =>
        ScheduleRuns.Next(schedule.Definition.Cron, schedule.Definition.TimeZone, schedule.NextRun, NextRuns);

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var queue = string.IsNullOrWhiteSpace(Queue) ? null : Queue.Trim();
        Schedules = [.. (await session.Client.ListSchedulesAsync(queue, cancellationToken))
            .OrderBy(s => s.Definition.Queue, StringComparer.Ordinal).ThenBy(s => s.Definition.Name, StringComparer.Ordinal)];
    }

    public Task<IActionResult> OnPostPauseAsync(CancellationToken cancellationToken) =>
        ActAsync("schedule.pause", async (queue, name) =>
        {
            await session.Client.PauseScheduleAsync(queue, name, cancellationToken);
            return $"Schedule {name} paused: no slot fires until it resumes.";
        });

    public Task<IActionResult> OnPostResumeAsync(CancellationToken cancellationToken) =>
        ActAsync("schedule.resume", async (queue, name) =>
        {
            var resumed = await session.Client.ResumeScheduleAsync(queue, name, cancellationToken);
            return $"Schedule {name} resumed; next run {Format.Time(resumed.NextRun)}.";
        });

    public Task<IActionResult> OnPostTriggerAsync(CancellationToken cancellationToken) =>
        ActAsync("schedule.trigger", async (queue, name) =>
        {
            var id = await session.Client.TriggerScheduleAsync(queue, name, cancellationToken);
            TempData["Triggered"] = id;
            return $"Schedule {name} triggered: task {id}.";
        });

    private async Task<IActionResult> ActAsync(string action, Func<string, string, Task<string>> act)
    {
        if (string.IsNullOrWhiteSpace(Queue) || string.IsNullOrWhiteSpace(Name))
        {
            return BadRequest();
        }

        try
        {
            TempData["Notice"] = await act(Queue, Name);
            Log.ActionDone(logger, session.Identity, action, Queue, Name, 1);
        }
        catch (Grpc.Core.RpcException ex) when (ex.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.ActionRefused(logger, session.Identity, action, Queue, ex.StatusCode.ToString());
            throw;
        }

        return RedirectToPage();
    }
}
