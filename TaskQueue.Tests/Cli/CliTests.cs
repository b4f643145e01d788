using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TaskQueue.Cli;
using TaskQueue.Protocol.V1;
using TaskQueue.Tests.Client;
using TaskQueue.Tests.Worker;

namespace TaskQueue.Tests.Cli;

public sealed class CliTests : IAsyncLifetime
{
    private readonly FakeTaskService _fake = new();
    private GrpcTestServer? _server;

    public async Task InitializeAsync() =>
        _server = await GrpcTestServer.StartAsync<FakeTaskService.Endpoint>(services => services.AddSingleton(_fake));

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Submit_prints_the_new_task_id()
    {
        _fake.OnSubmit = _ => new SubmitResponse { TaskId = "t-cli" };

        var (exitCode, output, _) = await RunAsync("submit", "--queue", "emails", "--type", "echo", "--payload", "hi", "--priority", "3", "--delay", "1.5s", "--timeout", "2m");

        Assert.Equal(0, exitCode);
        Assert.Equal("t-cli", output.Trim());
        var spec = _fake.Single<SubmitRequest>().Task;
        Assert.Equal(("emails", "echo", "hi", 3), (spec.Queue, spec.Type, spec.Payload.ToStringUtf8(), spec.Priority));
        Assert.Equal(TimeSpan.FromSeconds(1.5), spec.Delay.ToTimeSpan());
        Assert.Equal(TimeSpan.FromMinutes(2), spec.ExecutionTimeout.ToTimeSpan());
    }

    [Fact]
    public async Task Load_reports_the_outcome_counts_and_fails_unless_every_task_completed()
    {
        var dead = 0;
        _fake.OnWait = request => new TaskInfo
        {
            TaskId = request.TaskId,
            State = Interlocked.Increment(ref dead) == 1 ? TaskState.DeadLettered : TaskState.Completed,
        };

        var (exitCode, output, _) = await RunAsync("load", "--count", "5", "--batch", "2", "--type", "echo", "--payload", "x");

        Assert.Equal(1, exitCode);
        Assert.Equal([2, 2, 1], _fake.Requests.OfType<SubmitBatchRequest>().Select(call => call.Tasks.Count));
        Assert.Equal(5, _fake.Requests.OfType<WaitTaskRequest>().Count());
        Assert.Contains("completed: 4  dead-lettered: 1  other: 0", output, StringComparison.Ordinal);
        Assert.Contains("completion rate: 80.00 %", output, StringComparison.Ordinal);
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

    private async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var configuration = new ConfigurationBuilder().Build();
        var exitCode = await TaskQueueCli.InvokeAsync(
            [.. args, "--broker", _server!.Address.ToString()], output, error, configuration);
        return (exitCode, output.ToString(), error.ToString());
    }
}
