using Microsoft.Extensions.Options;
using TaskQueue.Client;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>What a list page asks for: a queue's tasks in one state, of one type and group or all, whose id or error holds a text.</summary>
public sealed record TaskQuery(string Queue, TaskState State, string? Type, string? Text, string? Cursor)
{
    /// <summary>Only tasks of this group (null or empty: every group): the broker's filter, like the type.</summary>
    public string? Group { get; init; }
}

/// <summary>One list page: the tasks, the broker cursor to go on from (null at the end), and how many tasks a search read.</summary>
public sealed record TaskListPage(IReadOnlyList<TaskSnapshot> Tasks, string? NextCursor, long Scanned);

/// <summary>
/// Lists tasks through ListTasks' cursor, so a page costs the same on a queue of ten tasks or ten million. The type and
/// group filters are the broker's (list.lua checks them while it reads one page); a text (in the id or the last error) is matched here over at most SearchPages broker pages of 1,000,
/// after which the page offers to search on from where it stopped: never a scan of the whole queue in one request.
/// </summary>
public sealed class TaskSearch(IOptions<DashboardOptions> options)
{
    private const int SearchBatch = 1000;
    private readonly DashboardOptions _options = options.Value;

    public async Task<TaskListPage> ListAsync(TaskQueueClient client, TaskQuery query, CancellationToken cancellationToken)
    {
        var type = string.IsNullOrWhiteSpace(query.Type) ? null : query.Type.Trim();
        var group = string.IsNullOrWhiteSpace(query.Group) ? null : query.Group.Trim();
        if (string.IsNullOrWhiteSpace(query.Text))
        {
            var page = await client.ListTasksAsync(query.Queue, query.State, type, _options.PageSize, query.Cursor, group: group, cancellationToken: cancellationToken);
            return new TaskListPage(page.Tasks, page.NextCursor, page.Tasks.Count);
        }

        var text = query.Text.Trim();
        var found = new List<TaskSnapshot>();
        var cursor = query.Cursor;
        long scanned = 0;
        for (var pages = 0; pages < _options.SearchPages; pages++)
        {
            var page = await client.ListTasksAsync(query.Queue, query.State, type, SearchBatch, cursor, group: group, cancellationToken: cancellationToken);
            scanned += page.Tasks.Count;
            found.AddRange(page.Tasks.Where(task => Matches(task, text)));
            cursor = page.NextCursor;
            if (cursor is null || found.Count >= _options.PageSize)
            {
                break;
            }
        }

        return new TaskListPage(found, cursor, scanned);
    }

    public static bool Matches(TaskSnapshot task, string text) =>
        task.TaskId.Contains(text, StringComparison.OrdinalIgnoreCase)
        || (task.LastError?.Contains(text, StringComparison.OrdinalIgnoreCase) ?? false);
}
