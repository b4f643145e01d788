using System.Text.Json;
using TaskQueue.Dashboard.Pages;
using TaskQueue.Protocol;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Infrastructure;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Dashboard;

/// <summary>
/// The operator dashboard in a real headless Chromium (playwright-core) against real Redis, broker, worker and dashboard
/// processes (<see cref="DashboardSystem"/>). Each test runs one scenario of browser/scenarios.mjs and checks what the
/// browser saw against the broker's own answers.
/// </summary>
public sealed class DashboardBrowserTests(DashboardSystem system, ITestOutputHelper output) : IClassFixture<DashboardSystem>
{
    private TaskService.TaskServiceClient Broker => system.Cluster.Client();

    [Fact]
    public async Task An_operator_signs_in_with_an_api_key_kept_in_an_http_only_strict_cookie_and_signs_out()
    {
        var result = await system.RunScenarioAsync("signin");

        Assert.True(result.GetProperty("redirectedToSignIn").GetBoolean());
        Assert.True(result.GetProperty("badKeyRefused").GetBoolean());
        Assert.Equal(0, result.GetProperty("cookiesAfterBadKey").GetInt32());
        Assert.Equal("key:" + TestCredentials.AdminName, result.GetProperty("identity").GetString());
        Assert.True(result.GetProperty("cookie").GetProperty("httpOnly").GetBoolean());
        Assert.Equal("Strict", result.GetProperty("cookie").GetProperty("sameSite").GetString());
        Assert.False(result.GetProperty("keyInCookie").GetBoolean()); // encrypted, not the key in the clear
        Assert.True(result.GetProperty("signedOut").GetBoolean());
    }

    [Fact]
    public async Task A_queues_counts_on_the_overview_and_the_queue_page_match_GetQueueStats()
    {
        var result = await system.RunScenarioAsync("counts");
        var stats = await Broker.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = system.StaticQueue });

        foreach (var page in new[] { "overview", "queuePage" })
        {
            var seen = result.GetProperty(page);
            Assert.Equal(stats.Ready, seen.GetProperty("ready").GetInt64());
            Assert.Equal(stats.Scheduled, seen.GetProperty("scheduled").GetInt64());
            Assert.Equal(stats.Leased, seen.GetProperty("leased").GetInt64());
            Assert.Equal(stats.DeadLettered, seen.GetProperty("dead").GetInt64());
        }

        Assert.Equal(7, stats.Ready);
        Assert.Equal(3, stats.Scheduled);
        Assert.Equal(7, result.GetProperty("rows").GetInt32()); // the Ready list shows them all
        // Workers connected: what the broker's registry lists (the shared Redis may hold other tests' workers too).
        Assert.Equal((await system.Cluster.GetWorkersAsync()).Count, result.GetProperty("workers").GetInt32());
    }

    [Fact]
    public async Task The_queue_page_shows_each_tasks_group_and_filters_by_group_through_the_broker()
    {
        var result = await system.RunScenarioAsync("groups");
        output.WriteLine(result.ToString());

        var all = result.GetProperty("allGroups").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(7, all.Count);
        Assert.Equal(4, all.Count(g => g == DashboardSystem.GroupA));
        var filtered = result.GetProperty("filtered").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(4, filtered.Count);
        Assert.All(filtered, g => Assert.Equal(DashboardSystem.GroupA, g));
        Assert.Contains("group=" + DashboardSystem.GroupA, result.GetProperty("url").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_finds_a_dead_letter_by_its_error_replays_it_and_watches_it_complete()
    {
        var result = await system.RunScenarioAsync("replay");

        var found = result.GetProperty("found").EnumerateArray().Select(e => e.GetString()!).ToList();
        var id = Assert.Single(found);
        var task = await Broker.GetAsync(new GetTaskRequest { TaskId = id });
        Assert.Contains(DashboardSystem.DeadText, task.LastError, StringComparison.Ordinal);
        Assert.Equal("1 replayed.", result.GetProperty("notice").GetString());
        Assert.Equal("Completed", result.GetProperty("finalState").GetString());
        Assert.Equal(TaskState.Completed, task.State);
        Assert.Contains("order", result.GetProperty("result").GetString(), StringComparison.Ordinal);
        // The broker audited the replay under the operator's own identity.
        Assert.Contains(result.GetProperty("audited").EnumerateArray(), entry =>
            entry.GetString()!.Contains("key:" + TestCredentials.AdminName, StringComparison.Ordinal)
            && entry.GetString()!.Contains("replay", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_read_identity_sees_no_mutating_control_and_its_forged_posts_are_refused_and_change_nothing()
    {
        var before = await Broker.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = system.Cluster.Queue });
        Assert.True(before.DeadLettered > 0, "the scenario needs a dead letter to try to purge");
        var firedBefore = (await Broker.GetScheduleAsync(new GetScheduleRequest { Queue = system.Cluster.Queue, Name = DashboardSystem.ScheduleName })).Fired;

        var result = await system.RunScenarioAsync("readonly");
        output.WriteLine(result.ToString());

        foreach (var page in result.GetProperty("controls").EnumerateObject())
        {
            Assert.Equal(200, page.Value.GetProperty("status").GetInt32());
            Assert.Equal(0, page.Value.GetProperty("mutating").GetInt32());
        }

        Assert.True(result.GetProperty("deadShown").GetInt32() > 0); // it may read them, not act on them
        var forged = result.GetProperty("forged");
        Assert.Equal(400, forged.GetProperty("purgeAllWithoutToken").GetInt32()); // anti-forgery
        Assert.Equal(400, forged.GetProperty("cancelWithoutToken").GetInt32());
        Assert.Equal(403, forged.GetProperty("purgeAllWithToken").GetInt32()); // the broker: read may not purge
        Assert.Equal(403, forged.GetProperty("replayAllWithToken").GetInt32());
        Assert.Equal(403, forged.GetProperty("cancelWithToken").GetInt32());
        Assert.Equal(400, forged.GetProperty("pauseWithoutToken").GetInt32());
        Assert.Equal(403, forged.GetProperty("pauseWithToken").GetInt32());
        Assert.Equal(400, forged.GetProperty("triggerWithoutToken").GetInt32());
        Assert.Equal(403, forged.GetProperty("triggerWithToken").GetInt32());
        Assert.Equal(400, forged.GetProperty("drainWithoutToken").GetInt32());
        Assert.Equal(403, forged.GetProperty("drainWithToken").GetInt32());

        var after = await Broker.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = system.Cluster.Queue });
        Assert.False(after.Paused);
        Assert.Equal(before.DeadLettered, after.DeadLettered);
        Assert.Equal(before.Ready, after.Ready);
        var schedule = await Broker.GetScheduleAsync(new GetScheduleRequest { Queue = system.Cluster.Queue, Name = DashboardSystem.ScheduleName });
        Assert.Equal(0, schedule.Fired - firedBefore); // the forged trigger created nothing
        var waiting = await Broker.GetAsync(new GetTaskRequest { TaskId = system.WaitingTaskId });
        Assert.Equal(TaskState.Ready, waiting.State);
        Assert.False(waiting.CancelRequested);
        Assert.NotEqual(WorkerStatuses.Draining, (await system.Cluster.GetWorkersAsync())[DashboardSystem.WorkerId].GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_workers_page_links_a_running_task_shows_the_types_and_an_admin_drains_the_worker_which_then_takes_nothing_new()
    {
        var workerId = "drain-me-" + system.Cluster.Queue;
        var running = "";
        List<string> later = [];
        var result = await system.RunScenarioAsync("workers", new Dictionary<string, string> { ["DRAIN_WORKER"] = workerId }, async step =>
        {
            if (step == "start")
            {
                // A drain timeout longer than the running task: it finishes instead of being handed back.
                system.Cluster.StartWorker(workerId, concurrency: 2, settings: new Dictionary<string, string>
                {
                    ["Worker__Queues"] = system.DrainQueue,
                    ["Worker__DrainTimeout"] = "00:01:00",
                });
                running = (await system.Cluster.SubmitAsync([new TaskSpec { Queue = system.DrainQueue, Type = "sleep", Payload = Google.Protobuf.ByteString.CopyFromUtf8("20000") }]))[0];
            }
            else
            {
                Assert.Equal("submit", step);
                later = await system.Cluster.SubmitAsync(Enumerable.Range(0, 2).Select(i => new TaskSpec { Queue = system.DrainQueue, Type = "echo", Payload = Google.Protobuf.ByteString.CopyFromUtf8($"after the drain {i}") }));
            }
        });
        output.WriteLine(result.ToString());

        var entry = (await system.Cluster.GetWorkersAsync())[workerId];
        var types = entry.GetProperty("task_types").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(running, result.GetProperty("runningTask").GetString());
        Assert.Equal("/Task?id=" + Uri.EscapeDataString(running), result.GetProperty("runningHref").GetString());
        Assert.Equal(running, result.GetProperty("linkedTask").GetString());
        Assert.Equal(types.Count == 0 ? "all" : string.Join(", ", types), result.GetProperty("types").GetString());
        Assert.Equal(WorkerStatuses.Busy, result.GetProperty("statusBefore").GetString());
        Assert.Contains(workerId, result.GetProperty("confirmed").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Draining " + workerId, result.GetProperty("notice").GetString(), StringComparison.Ordinal);
        Assert.Equal(WorkerStatuses.Draining, result.GetProperty("statusAfter").GetString());
        Assert.Equal(0, result.GetProperty("drainButtons").GetInt32());
        Assert.Equal("Completed", result.GetProperty("finalState").GetString());
        Assert.Equal(WorkerStatuses.Draining, result.GetProperty("statusAtEnd").GetString());
        Assert.Equal(WorkerStatuses.Draining, entry.GetProperty("status").GetString());
        // Its running task finished with free slots after it, and it took none of the tasks submitted after the drain.
        foreach (var id in later)
        {
            Assert.Equal(TaskState.Ready, (await Broker.GetAsync(new GetTaskRequest { TaskId = id })).State);
        }

        var audit = await Broker.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = system.DrainQueue });
        Assert.Contains(audit.Entries, e => e.Action == "worker.drain" && e.Target == "worker:" + workerId && e.Identity == "key:" + TestCredentials.AdminName);
    }

    [Fact]
    public async Task An_admin_pauses_a_queue_sees_submitted_tasks_wait_without_starting_then_resumes_it_and_sees_it_drain()
    {
        const int Submitted = 12;
        var queue = system.Cluster.Queue;
        List<string> ids = [];
        JsonElement result;
        try
        {
            result = await system.RunScenarioAsync("pause", new Dictionary<string, string> { ["SUBMITTED"] = $"{Submitted}" }, async step =>
            {
                Assert.Equal("submit", step);
                ids = await system.Cluster.SubmitAsync(Enumerable.Range(0, Submitted).Select(i => system.Cluster.Task("echo", $"paused {i}")));
            });
        }
        finally
        {
            // Whatever the scenario did, the class's other tests need the queue running.
            await Broker.ResumeQueueAsync(new ResumeQueueRequest { Queue = queue });
        }

        output.WriteLine(result.ToString());
        Assert.Equal("false", result.GetProperty("before").GetProperty("paused").GetString());
        Assert.Equal("true", result.GetProperty("afterPause").GetProperty("paused").GetString());
        Assert.Equal("true", result.GetProperty("overviewPaused").GetString());
        Assert.True(result.GetProperty("seenAll").GetBoolean(), "the page never showed every submitted task as ready");
        Assert.True(result.GetProperty("pausedThroughout").GetBoolean());
        var readyBefore = result.GetProperty("before").GetProperty("ready").GetInt64();
        Assert.Equal(readyBefore + Submitted, result.GetProperty("maxReady").GetInt64());
        Assert.Equal(0, result.GetProperty("maxLeased").GetInt64()); // nothing started while paused
        Assert.Equal("false", result.GetProperty("afterResume").GetProperty("paused").GetString());
        Assert.Equal(JsonValueKind.Object, result.GetProperty("drained").ValueKind);
        var finals = await system.Cluster.WaitAllFinalAsync(ids, TimeSpan.FromSeconds(30));
        Assert.All(finals, task => Assert.Equal(TaskQueue.Broker.Storage.TaskState.Completed, task.State));

        // The broker audited both under the operator's identity.
        var audit = await Broker.ListAuditEntriesAsync(new ListAuditEntriesRequest { Queue = queue, Limit = 50 });
        Assert.Contains(audit.Entries, e => e.Action == "queue.pause" && e.Identity == "key:" + TestCredentials.AdminName);
        Assert.Contains(audit.Entries, e => e.Action == "queue.resume" && e.Identity == "key:" + TestCredentials.AdminName);
    }

    [Fact]
    public async Task The_schedules_page_shows_the_next_three_runs_pauses_and_resumes_and_a_trigger_now_creates_a_task_that_completes()
    {
        JsonElement result;
        try
        {
            result = await system.RunScenarioAsync("schedules");
        }
        finally
        {
            await Broker.ResumeScheduleAsync(new ResumeScheduleRequest { Queue = system.Cluster.Queue, Name = DashboardSystem.ScheduleName });
        }

        output.WriteLine(result.ToString());
        var schedule = await Broker.GetScheduleAsync(new GetScheduleRequest { Queue = system.Cluster.Queue, Name = DashboardSystem.ScheduleName });
        var runs = result.GetProperty("nextRuns").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Equal(3, runs.Count);
        Assert.Equal(Format.Time(schedule.NextRun.ToDateTimeOffset()), runs[0]); // the broker's own next run first
        var berlin = TimeZoneInfo.FindSystemTimeZoneById("Europe/Berlin");
        Assert.All(runs, run => Assert.Equal(3, TimeZoneInfo.ConvertTime(DateTimeOffset.ParseExact(run!, "yyyy-MM-dd HH:mm:ss.fff 'UTC'", null, System.Globalization.DateTimeStyles.AssumeUniversal), berlin).Hour));
        Assert.Equal("0 3 * * *", result.GetProperty("cron").GetString());
        Assert.Equal("true", result.GetProperty("paused").GetString());
        Assert.Equal(0, result.GetProperty("nextRunsPaused").GetInt32()); // a paused schedule has no next run
        Assert.Equal("false", result.GetProperty("resumed").GetString());
        var triggered = result.GetProperty("triggered").GetString()!;
        Assert.Equal("Completed", result.GetProperty("finalState").GetString());
        Assert.Equal(triggered, result.GetProperty("lastTask").GetString());
        Assert.Equal("Completed", result.GetProperty("lastState").GetString());
        Assert.Equal(triggered, schedule.LastTaskId);
        Assert.Equal(TaskState.Completed, (await Broker.GetAsync(new GetTaskRequest { TaskId = triggered })).State);
    }

    [Fact]
    public async Task The_task_page_lists_each_failed_attempt_with_its_error_and_links_the_tasks_trace_in_the_aspire_dashboard()
    {
        var result = await system.RunScenarioAsync("attempts");
        output.WriteLine(result.ToString());

        var task = await Broker.GetAsync(new GetTaskRequest { TaskId = system.RetriedTaskId });
        Assert.Equal(TaskState.Completed, task.State);
        Assert.Equal([1, 2], task.Attempts.Select(a => a.Attempt));
        Assert.All(task.Attempts, a => Assert.Equal("retrying", a.Outcome));
        Assert.All(task.Attempts, a => Assert.Equal("dash-worker", a.WorkerId));
        var rows = result.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.Equal(task.Attempts[i].Attempt, rows[i].GetProperty("attempt").GetInt32());
            Assert.Equal(task.Attempts[i].Outcome, rows[i].GetProperty("outcome").GetString());
            Assert.Contains($"Planned failure of attempt {i + 1}", rows[i].GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal("Completed", result.GetProperty("state").GetString());
        Assert.Equal($"{DashboardSystem.AspireUrl}/traces/detail/{DashboardSystem.TraceId}", result.GetProperty("traceLink").GetString());
    }

    [Fact]
    public async Task GetIdentity_tells_any_caller_its_scopes_and_ListQueues_needs_read_scope()
    {
        var viewer = await system.Cluster.Client(key: system.ReadKey).GetIdentityAsync(new GetIdentityRequest());
        Assert.Equal("key:viewer", viewer.Identity);
        Assert.Equal(["read:*"], viewer.Scopes);

        var worker = system.Cluster.Client(key: system.Cluster.Credentials.WorkerKey);
        var consumer = await worker.GetIdentityAsync(new GetIdentityRequest());
        Assert.Equal("key:" + TestCredentials.WorkerName, consumer.Identity);
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await worker.ListQueuesAsync(new ListQueuesRequest()));
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, refused.StatusCode);

        var queues = (await system.Cluster.Client(key: system.ReadKey).ListQueuesAsync(new ListQueuesRequest())).Queues;
        Assert.Contains(system.StaticQueue, queues);
        Assert.Contains(system.BigQueue, queues);
        var anonymous = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () => await system.Cluster.Client(anonymous: true).GetIdentityAsync(new GetIdentityRequest()));
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, anonymous.StatusCode);
    }

    [Fact]
    public async Task A_big_queues_list_pages_by_cursor_and_reports_its_load_time()
    {
        var result = await system.RunScenarioAsync("biglist");

        // Reported, not asserted: CI machines are shared.
        output.WriteLine($"list page of a {DashboardSystem.BigQueueSize:N0}-task queue: {result}");
        Console.WriteLine($"dashboard list page, {DashboardSystem.BigQueueSize:N0} ready tasks: median {result.GetProperty("medianMs")} ms " +
                          $"(first page {result.GetProperty("firstPageMs")}, next pages {result.GetProperty("nextPagesMs")}, text search {result.GetProperty("searchMs")} ms)");
        Assert.Equal(DashboardSystem.BigQueueSize, result.GetProperty("ready").GetInt64());
        Assert.Equal(50, result.GetProperty("rows").GetInt32());
        Assert.Equal(50, result.GetProperty("laterRows").GetInt32());
        Assert.Equal(5, result.GetProperty("nextPagesMs").GetArrayLength());
    }

    [Fact]
    public async Task Every_page_renders_for_an_admin_and_is_captured_for_the_readme()
    {
        var target = Environment.GetEnvironmentVariable("TQ_SCREENSHOTS_DIR") is { Length: > 0 } dir
            ? dir
            : Directory.CreateTempSubdirectory("tq-dashboard-shots-").FullName;
        var result = await system.RunScenarioAsync("screenshots", new Dictionary<string, string> { ["SHOTS_DIR"] = target });

        foreach (var page in result.GetProperty("statuses").EnumerateObject())
        {
            Assert.Equal(200, page.Value.GetInt32());
            Assert.True(new FileInfo(Path.Combine(target, page.Name)).Length > 5_000, $"{page.Name} is nearly empty");
        }
    }
}
