using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Client;
using TaskQueue.Tests.Fakes;
using TaskQueue.Tests.Worker;

namespace TaskQueue.Tests.Cli;

public sealed class CliTests : FakeBrokerCliTests
{
    [Fact]
    public async Task Submit_prints_the_new_task_id()
    {
        Fake.OnSubmit = _ => new SubmitResponse { TaskId = "t-cli" };

        var (exitCode, output, _) = await RunAsync("submit", "--queue", "emails", "--type", "echo", "--payload", "hi", "--priority", "3", "--delay", "1.5s", "--timeout", "2m");

        Assert.Equal(0, exitCode);
        Assert.Equal("t-cli", output.Trim());
        var spec = Fake.Single<SubmitRequest>().Task;
        Assert.Equal(("emails", "echo", "hi", 3), (spec.Queue, spec.Type, spec.Payload.ToStringUtf8(), spec.Priority));
        Assert.Equal(TimeSpan.FromSeconds(1.5), spec.Delay.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMinutes(2), spec.ExecutionTimeout.ToTimeSpan());
    }

    [Fact]
    public async Task Load_reports_the_outcome_counts_and_fails_unless_every_task_completed()
    {
        var dead = 0;
        Fake.OnWait = request => new TaskInfo
        {
            TaskId = request.TaskId,
            State = Interlocked.Increment(ref dead) == 1 ? TaskState.DeadLettered : TaskState.Completed,
        };

        var (exitCode, output, _) = await RunAsync("load", "--count", "5", "--batch", "2", "--type", "echo", "--payload", "x");

        Assert.Equal(1, exitCode);
        Assert.Equal([2, 2, 1], Fake.Requests.OfType<SubmitBatchRequest>().Select(call => call.Tasks.Count));
        Assert.Equal(5, Fake.Requests.OfType<WaitTaskRequest>().Count());
        Assert.Contains("completed: 4  dead-lettered: 1  other: 0", output, StringComparison.Ordinal);
        Assert.Contains("completion rate: 80.00 %", output, StringComparison.Ordinal);
        Assert.DoesNotContain("note:", output, StringComparison.Ordinal); // a broker of its own, no OTLP export
    }

    [Fact]
    public void Load_says_what_the_dashboard_costs_when_traces_are_exported_or_the_broker_is_the_AppHosts()
    {
        static IConfiguration Settings(params (string Key, string Value)[] pairs) =>
            new ConfigurationBuilder().AddInMemoryCollection(pairs.Select(p => new KeyValuePair<string, string?>(p.Key, p.Value))).Build();
        Uri[] elsewhere = [new("http://10.0.0.7:5001")];

        var exported = LoadCommand.DashboardCost(
            Settings(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"), ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "0.01")),
            elsewhere);
        var everySpan = LoadCommand.DashboardCost(Settings(("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317")), elsewhere);
        var appHosts = LoadCommand.DashboardCost(Settings(), [new("http://localhost:5001")]);
        var neither = LoadCommand.DashboardCost(Settings(), elsewhere);

        Assert.Contains("traces are exported over OTLP (sampler: parentbased_traceidratio 0.01)", exported, StringComparison.Ordinal);
        Assert.Contains("(sampler: every span)", everySpan, StringComparison.Ordinal);
        Assert.Contains("the AppHost's", appHosts, StringComparison.Ordinal);
        Assert.All([exported, everySpan, appHosts], note => Assert.Contains("--TraceSampling:Ratio=0.01", note, StringComparison.Ordinal));
        Assert.Null(neither);
    }

    [Fact]
    public async Task Wait_with_progress_prints_a_bar_line_per_change_when_not_on_a_terminal_then_the_task()
    {
        var at = Timestamp.FromDateTimeOffset(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        TaskInfo Info(TaskState state, int percent) => new()
        {
            TaskId = "t-3", Queue = "emails", Type = "count", State = state, Attempt = 1, MaxAttempts = 3, ProgressPercent = percent, ProgressMessage = percent > 0 ? $"{percent / 10}/10" : "",
            ProgressAt = percent > 0 ? at : null,
        };
        Fake.OnWatch = _ =>
        [
            new TaskEvent { Kind = TaskEventKind.Snapshot, Task = Info(TaskState.Ready, 0) },
            new TaskEvent { Kind = TaskEventKind.StateChanged, Task = Info(TaskState.Leased, 0) },
            new TaskEvent { Kind = TaskEventKind.Progress, Task = Info(TaskState.Leased, 40) },
            new TaskEvent { Kind = TaskEventKind.StateChanged, Task = Info(TaskState.Completed, 90) },
        ];
        Fake.OnGet = _ => Info(TaskState.Completed, 90);

        var (exitCode, output, _) = await RunAsync("wait", "t-3", "--progress", "--timeout", "10s");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.TrimEnd('\r')).ToList();
        Assert.Equal(
            [
                "[------------------------------]   0% ready 1/3",
                "[------------------------------]   0% leased 1/3",
                "[############------------------]  40% leased 1/3 4/10",
                "[##############################] 100% completed 1/3 9/10",
            ],
            lines.Take(4));
        Assert.DoesNotContain('\r', output.Replace(Environment.NewLine, "\n", StringComparison.Ordinal));
        Assert.Contains("state:            Completed", output, StringComparison.Ordinal);
        Assert.Empty(Fake.Requests.OfType<WaitTaskRequest>());
    }

    [Fact]
    public async Task Get_with_json_prints_one_document_with_every_field_of_the_task()
    {
        var created = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        Fake.OnGet = id => new TaskInfo
        {
            TaskId = id, Queue = "emails", Type = "echo", State = TaskState.DeadLettered, Attempt = 3, MaxAttempts = 3, Priority = 2,
            Payload = ByteString.CopyFromUtf8("hi"), Result = ByteString.CopyFrom(0xff, 0x00), LastError = "boom", WorkerId = "w-1",
            CreatedAt = Timestamp.FromDateTimeOffset(created),
        };

        var (exitCode, output, _) = await RunAsync("get", "t-9", "--json");

        Assert.Equal(0, exitCode);
        using var json = JsonDocument.Parse(output);
        var task = json.RootElement;
        Assert.Equal(
            ["taskId", "queue", "type", "state", "attempt", "maxAttempts", "priority", "workerId", "cancelRequested",
             "createdAt", "startedAt", "finishedAt", "dueAt", "lastError", "payload", "result"],
            task.EnumerateObject().Select(property => property.Name));
        Assert.Equal(("t-9", "emails", "echo", "deadLettered"), (Text(task, "taskId"), Text(task, "queue"), Text(task, "type"), Text(task, "state")));
        Assert.Equal((3, 3, 2), (task.GetProperty("attempt").GetInt32(), task.GetProperty("maxAttempts").GetInt32(), task.GetProperty("priority").GetInt32()));
        Assert.Equal(("w-1", "boom", false), (Text(task, "workerId"), Text(task, "lastError"), task.GetProperty("cancelRequested").GetBoolean()));
        Assert.Equal(created, task.GetProperty("createdAt").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, task.GetProperty("startedAt").ValueKind);
        Assert.Equal((2, "hi", "aGk="), (task.GetProperty("payload").GetProperty("length").GetInt32(), Text(task.GetProperty("payload"), "text"), Text(task.GetProperty("payload"), "base64")));
        // Not UTF-8: no text, only base64.
        Assert.Equal(JsonValueKind.Null, task.GetProperty("result").GetProperty("text").ValueKind);
        Assert.Equal("/wA=", Text(task.GetProperty("result"), "base64"));
    }

    [Fact]
    public async Task Stats_with_json_prints_the_counts_and_counters_by_name()
    {
        Fake.OnStats = queue => new QueueStats
        {
            Queue = queue, Ready = 1, Scheduled = 2, Leased = 3, DeadLettered = 4, Submitted = 5, Completed = 6, Failed = 7, Retried = 8, Expired = 9, Cancelled = 10,
        };

        var (exitCode, output, _) = await RunAsync("stats", "--queue", "emails", "--json");

        Assert.Equal(0, exitCode);
        using var json = JsonDocument.Parse(output);
        var counts = json.RootElement.EnumerateObject().Where(p => p.Name != "queue").ToDictionary(p => p.Name, p => p.Value.GetInt64());
        Assert.Equal("emails", Text(json.RootElement, "queue"));
        Assert.Equal(
            new Dictionary<string, long>
            {
                ["ready"] = 1, ["scheduled"] = 2, ["leased"] = 3, ["deadLettered"] = 4, ["pending"] = 6, ["submitted"] = 5,
                ["completed"] = 6, ["failed"] = 7, ["retried"] = 8, ["expired"] = 9, ["cancelled"] = 10,
            },
            counts);
    }

    [Fact]
    public async Task Dlq_list_with_json_prints_the_page_and_the_total()
    {
        Fake.OnListDeadLetters = request => new ListDeadLettersResponse
        {
            Total = 12,
            Tasks =
            {
                new TaskInfo { TaskId = "d-1", Queue = request.Queue, Type = "fail", State = TaskState.DeadLettered, LastError = "boom" },
                new TaskInfo { TaskId = "d-2", Queue = request.Queue, Type = "fail", State = TaskState.DeadLettered },
            },
        };

        var (exitCode, output, _) = await RunAsync("dlq", "list", "--queue", "emails", "--offset", "10", "--limit", "2", "--json");

        Assert.Equal(0, exitCode);
        var request = Fake.Single<ListDeadLettersRequest>();
        Assert.Equal((10, 2), (request.Offset, request.Limit));
        using var json = JsonDocument.Parse(output);
        var page = json.RootElement;
        Assert.Equal(["queue", "offset", "total", "tasks"], page.EnumerateObject().Select(property => property.Name));
        Assert.Equal(("emails", 10, 12L), (Text(page, "queue"), page.GetProperty("offset").GetInt32(), page.GetProperty("total").GetInt64()));
        Assert.Equal(["d-1", "d-2"], page.GetProperty("tasks").EnumerateArray().Select(task => Text(task, "taskId")));
        Assert.Equal(["boom", null], page.GetProperty("tasks").EnumerateArray().Select(task => task.GetProperty("lastError").GetString()));
    }

    [Fact]
    public async Task With_json_an_error_goes_to_stderr_and_stdout_stays_empty()
    {
        var (exitCode, output, error) = await RunAsync("get", "missing", "--json");

        Assert.Equal(2, exitCode);
        Assert.Empty(output);
        Assert.Contains("NotFound", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_broker_option_the_Aspire_connection_string_names_the_brokers()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:taskqueue"] = "http://127.0.0.1:7001,http://127.0.0.1:7002",
        }).Build();

        var parsed = TaskQueueCli.BuildRootCommand(configuration).Parse(["stats"]);

        Assert.Empty(parsed.Errors);
        Assert.Equal([new Uri("http://127.0.0.1:7001"), new Uri("http://127.0.0.1:7002")], parsed.GetValue<Uri[]>("--broker")!);
    }

    [Theory]
    [InlineData("250ms", 250)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5m", 90_000)]
    [InlineData("00:00:02", 2_000)]
    [InlineData("3", 3_000)]
    public void Durations_accept_units_clock_format_and_bare_seconds(string text, int milliseconds)
    {
        Assert.True(DurationParser.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    private static string? Text(JsonElement element, string name) => element.GetProperty(name).GetString();

    [Fact]
    public async Task The_api_key_from_the_option_or_from_TaskQueue_ApiKey_goes_with_every_call_as_a_bearer_token()
    {
        var (optionExit, _, _) = await RunAsync("stats", "--queue", "emails", "--api-key", "tqk_from_option");
        var (configExit, _, _) = await RunWithAsync(new() { ["TaskQueue:ApiKey"] = "tqk_from_config" }, "stats", "--queue", "emails");
        var (bothExit, _, _) = await RunWithAsync(new() { ["TaskQueue:ApiKey"] = "tqk_from_config" }, "stats", "--api-key", "tqk_option_wins");

        Assert.Equal((0, 0, 0), (optionExit, configExit, bothExit));
        Assert.Equal(["Bearer tqk_from_option", "Bearer tqk_from_config", "Bearer tqk_option_wins"], Fake.Authorizations);
    }

    [Fact]
    public async Task Keys_new_prints_a_new_key_once_and_the_broker_lines_with_its_hash_and_scopes()
    {
        var (exitCode, output, _) = await RunAsync("keys", "new", "--name", "billing-app", "--scope", "submit:billing-*", "--scope", "read:billing-*");

        Assert.Equal(0, exitCode);
        var lines = output.Split('\n', StringSplitOptions.TrimEntries);
        var key = Assert.Single(lines, line => line.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal));
        Assert.Contains($"TaskQueue__Security__ApiKeys__billing-app__Sha256={ApiKeys.Hash(key)}", lines);
        Assert.Contains("TaskQueue__Security__ApiKeys__billing-app__Scopes__0=submit:billing-*", lines);
        Assert.Contains("TaskQueue__Security__ApiKeys__billing-app__Scopes__1=read:billing-*", lines);
        Assert.Equal(1, output.Split(key).Length - 1); // the key itself once; the KeysFile entry holds only its hash
        Assert.Empty(Fake.Requests);
    }

    [Theory]
    [InlineData("--name", "has space", "--scope", "consume:*")]
    [InlineData("--name", "ok", "--scope", "write:*")]
    [InlineData("--name", "ok", "--scope", "consume")]
    public async Task Keys_new_refuses_a_bad_name_or_scope(params string[] args)
    {
        var (exitCode, output, _) = await RunAsync(["keys", "new", .. args]);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain(ApiKeys.Prefix, output, StringComparison.Ordinal);
    }
}
