using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Fakes;

namespace TaskQueue.Tests.Cli;

/// <summary>The CLI's <c>list</c> and submit's unique and debounce options, against a fake broker.</summary>
public sealed class ListAndKeysCliTests : FakeBrokerCliTests
{
    [Fact]
    public async Task Submit_sends_the_unique_and_debounce_keys_and_says_what_the_broker_did()
    {
        Fake.OnSubmit = request => new SubmitResponse
        {
            TaskId = "t-1", Duplicate = true,
            Outcome = request.Task.UniqueKey.Length > 0 ? SubmitOutcome.UniqueExisting : SubmitOutcome.Debounced,
        };

        var unique = await RunAsync("submit", "--type", "echo", "--unique-key", "report-7");
        var debounced = await RunAsync("submit", "--type", "echo", "--debounce-key", "reindex", "--debounce", "2s");

        Assert.Equal((0, "t-1"), (unique.ExitCode, unique.Output.Trim()));
        Assert.Contains("unique key", unique.Error, StringComparison.Ordinal);
        Assert.Equal((0, "t-1"), (debounced.ExitCode, debounced.Output.Trim()));
        Assert.Contains("debounced", debounced.Error, StringComparison.Ordinal);
        var specs = Fake.Requests.OfType<SubmitRequest>().Select(r => r.Task).ToList();
        Assert.Equal(("report-7", "", null), (specs[0].UniqueKey, specs[0].DebounceKey, specs[0].DebounceWindow));
        Assert.Equal(("", "reindex", TimeSpan.FromSeconds(2)), (specs[1].UniqueKey, specs[1].DebounceKey, specs[1].DebounceWindow.ToTimeSpan()));
    }

    [Theory]
    [InlineData("--debounce-key", "k")]
    [InlineData("--debounce", "2s")]
    public async Task Submit_refuses_a_debounce_key_without_a_window_and_the_other_way_round(params string[] option)
    {
        var (exitCode, _, error) = await RunAsync(["submit", "--type", "echo", .. option]);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--debounce-key and --debounce go together", error, StringComparison.Ordinal);
        Assert.Empty(Fake.Requests.OfType<SubmitRequest>());
    }

    [Fact]
    public async Task List_prints_a_table_and_the_cursor_of_the_next_page()
    {
        Fake.OnListTasks = request => new ListTasksResponse
        {
            Tasks =
            {
                new TaskInfo { TaskId = "emails:a1", Queue = request.Queue, Type = "echo", State = TaskState.Ready, Attempt = 0, MaxAttempts = 3 },
                new TaskInfo { TaskId = "emails:a2", Queue = request.Queue, Type = "resize", State = TaskState.Ready, Attempt = 1, MaxAttempts = 3 },
            },
            NextCursor = "CURSOR2",
        };

        var (exitCode, output, _) = await RunAsync("list", "--queue", "emails", "--state", "ready", "--type", "echo", "--limit", "2", "--cursor", "CURSOR1", "--oldest-first");

        Assert.Equal(0, exitCode);
        var request = Fake.Single<ListTasksRequest>();
        Assert.Equal(("emails", TaskState.Ready, "echo", 2, "CURSOR1", ListOrder.OldestFirst), (request.Queue, request.State, request.Type, request.Limit, request.Cursor, request.Order));
        var lines = output.Trim().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("emails:a1", lines[1], StringComparison.Ordinal);
        Assert.Contains("1/3", lines[2], StringComparison.Ordinal);
        Assert.Equal("2 shown; next page: --cursor CURSOR2", lines[3].Trim());
    }

    [Fact]
    public async Task List_with_json_prints_the_page_and_a_null_cursor_on_the_last_page()
    {
        Fake.OnListTasks = request => new ListTasksResponse
        {
            Tasks = { new TaskInfo { TaskId = "emails:d1", Queue = request.Queue, Type = "fail", State = TaskState.DeadLettered, CreatedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UnixEpoch) } },
        };

        var (exitCode, output, _) = await RunAsync("list", "-q", "emails", "-s", "dead-lettered", "--json");

        Assert.Equal(0, exitCode);
        Assert.Equal((TaskState.DeadLettered, ListOrder.NewestFirst, 50), (Fake.Single<ListTasksRequest>().State, Fake.Single<ListTasksRequest>().Order, Fake.Single<ListTasksRequest>().Limit));
        using var json = JsonDocument.Parse(output);
        var page = json.RootElement;
        Assert.Equal(["queue", "state", "order", "tasks", "nextCursor"], page.EnumerateObject().Select(p => p.Name));
        Assert.Equal(("emails", "deadLettered", "newestFirst"), (page.GetProperty("queue").GetString(), page.GetProperty("state").GetString(), page.GetProperty("order").GetString()));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
        Assert.Equal("emails:d1", page.GetProperty("tasks")[0].GetProperty("taskId").GetString());
    }

    [Theory]
    [InlineData("--state", "running")]
    [InlineData("--state", "ready", "--limit", "0")]
    [InlineData("--state", "ready", "--limit", "1001")]
    public async Task List_refuses_a_state_it_cannot_list_and_a_limit_out_of_range(params string[] args)
    {
        var (exitCode, _, _) = await RunAsync(["list", .. args]);

        Assert.NotEqual(0, exitCode);
        Assert.Empty(Fake.Requests.OfType<ListTasksRequest>());
    }
}
