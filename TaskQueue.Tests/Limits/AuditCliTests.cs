using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Client;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Client;
using TaskQueue.Tests.Fakes;
using ProtoAuditEntry = TaskQueue.Protocol.V1.AuditEntry;

namespace TaskQueue.Tests.Limits;

/// <summary><c>taskqueue audit</c> and the client's ListAuditEntriesAsync against a fake broker.</summary>
public sealed class AuditCliTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_time = new(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly FakeTaskService _fake = new();
    private GrpcTestServer? _server;

    public async Task InitializeAsync()
    {
        _server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(_fake));
        _fake.OnListAuditEntries = request => new ListAuditEntriesResponse
        {
            Entries =
            {
                new ProtoAuditEntry
                {
                    Id = "1893553445000-1", Time = Timestamp.FromDateTimeOffset(s_time), Identity = "key:ops", Action = "dead-letters.purge",
                    Queue = request.Queue.Length > 0 ? request.Queue : "billing", Target = "all", Outcome = "ok: 4 purged",
                },
                new ProtoAuditEntry
                {
                    Id = "1893553445000-0", Time = Timestamp.FromDateTimeOffset(s_time), Identity = "key:intern", Action = "cancel",
                    Queue = "billing", Target = "billing:0197a1b2c3d4e5f60718293a4b5c6d7e", Outcome = "denied",
                },
            },
            NextBefore = "1893553445000-0",
        };
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Audit_prints_each_entry_with_identity_action_and_outcome_and_the_cursor_of_the_next_page()
    {
        var (exitCode, output, _) = await RunAsync("audit", "--queue", "billing", "--limit", "2", "--before", "1893553446000-0");

        Assert.Equal(0, exitCode);
        var request = _fake.Single<ListAuditEntriesRequest>();
        Assert.Equal(("billing", 2, "1893553446000-0"), (request.Queue, request.Limit, request.Before));
        var lines = output.Trim().Split('\n');
        Assert.Equal("2030-01-02T03:04:05.000Z  key:ops  dead-letters.purge  billing  all  ok: 4 purged", lines[0].TrimEnd());
        Assert.Contains("key:intern  cancel  billing", lines[1], StringComparison.Ordinal);
        Assert.Equal("2 shown; older: --before 1893553445000-0", lines[2].TrimEnd());
    }

    [Fact]
    public async Task Audit_with_json_prints_one_document_with_every_field()
    {
        var (exitCode, output, _) = await RunAsync("audit", "--json");

        Assert.Equal(0, exitCode);
        Assert.Equal(("", 50), (_fake.Single<ListAuditEntriesRequest>().Queue, _fake.Single<ListAuditEntriesRequest>().Limit));
        using var json = JsonDocument.Parse(output);
        Assert.Equal(["entries", "nextBefore"], json.RootElement.EnumerateObject().Select(p => p.Name));
        var first = json.RootElement.GetProperty("entries")[0];
        Assert.Equal(["id", "time", "identity", "action", "queue", "target", "outcome"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal(s_time, first.GetProperty("time").GetDateTimeOffset());
        Assert.Equal("1893553445000-0", json.RootElement.GetProperty("nextBefore").GetString());
    }

    [Fact]
    public async Task Audit_refuses_a_limit_outside_1_to_1000_before_any_call()
    {
        var (exitCode, _, error) = await RunAsync("audit", "--limit", "5000");

        Assert.NotEqual(0, exitCode);
        Assert.Contains("--limit must be 1 to 1000", error, StringComparison.Ordinal);
        Assert.Empty(_fake.Requests);
    }

    [Fact]
    public async Task The_client_maps_a_page_and_its_cursor()
    {
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(_server!.Address);
        var client = new TaskQueueClient(channel);

        var page = await client.ListAuditEntriesAsync("billing", limit: 2);

        Assert.Equal(["key:ops", "key:intern"], page.Entries.Select(e => e.Identity));
        Assert.Equal((s_time, "ok: 4 purged", "1893553445000-0"), (page.Entries[0].Time, page.Entries[0].Outcome, page.NextBefore));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.ListAuditEntriesAsync(limit: 0));
    }

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await TaskQueueCli.InvokeAsync(
            [.. args, "--broker", _server!.Address.ToString()], output, error, new ConfigurationBuilder().Build());
        return (exitCode, output.ToString(), error.ToString());
    }
}
