using System.Text.Json;
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

        var after = await Broker.GetQueueStatsAsync(new GetQueueStatsRequest { Queue = system.Cluster.Queue });
        Assert.Equal(before.DeadLettered, after.DeadLettered);
        Assert.Equal(before.Ready, after.Ready);
        var waiting = await Broker.GetAsync(new GetTaskRequest { TaskId = system.WaitingTaskId });
        Assert.Equal(TaskState.Ready, waiting.State);
        Assert.False(waiting.CancelRequested);
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
