using System.Text.Json;
using TaskQueue.Worker;
using TaskQueue.Worker.Diagnostics;
using Xunit.Abstractions;

namespace TaskQueue.Tests.Worker;

public sealed class ExecutionLogTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("taskqueue-execlog-").FullName;

    [Fact]
    public async Task Every_attempt_appends_a_start_line_and_an_end_line_with_its_outcome()
    {
        var path = Path.Combine(_directory, "nested", "worker.jsonl");
        await using (var worker = await WorkerHarness.StartAsync(output, executionLog: path))
        {
            var echoLease = await worker.Session.AssignAsync("t-echo", "echo", "hi", attempt: 2);
            await worker.Session.AssignAsync("t-throw", "throw");
            await worker.Session.AssignAsync("t-lost", "gate");
            await worker.Probe.For("t-lost").WaitStartedAsync();
            await worker.Session.LoseLeaseAsync("t-lost");
            await worker.Session.WaitForOutcomeAsync("t-echo");
            await worker.Session.WaitForOutcomeAsync("t-throw");
            await Infrastructure.Eventually.TrueAsync(
                () => Task.FromResult(Read(path).Count(r => r.Event == TaskExecutionRecord.End) == 3),
                TimeSpan.FromSeconds(10),
                () => File.ReadAllText(path));

            var records = Read(path);
            var echo = records.Where(r => r.TaskId == "t-echo").ToList();
            Assert.Equal([TaskExecutionRecord.Start, TaskExecutionRecord.End], echo.Select(r => r.Event));
            Assert.All(echo, r => Assert.Equal((2, WorkerHarness.WorkerId, echoLease, Environment.ProcessId), (r.Attempt, r.WorkerId, r.LeaseToken, r.ProcessId)));
            Assert.Equal([null, TaskOutcomes.Completed], echo.Select(r => r.Outcome));
            Assert.True(echo[0].At <= echo[1].At);
            Assert.Equal(TaskOutcomes.Failed, records.Single(r => r.TaskId == "t-throw" && r.Event == TaskExecutionRecord.End).Outcome);
            Assert.Equal(TaskOutcomes.Lost, records.Single(r => r.TaskId == "t-lost" && r.Event == TaskExecutionRecord.End).Outcome);
        }

        // Appends: a restarted worker adds to what its predecessor wrote.
        await using (var again = await WorkerHarness.StartAsync(output, executionLog: path))
        {
            await again.Session.AssignAsync("t-next", "echo");
            await again.Session.WaitForOutcomeAsync("t-next");
            await Infrastructure.Eventually.TrueAsync(
                () => Task.FromResult(Read(path).Any(r => r.TaskId == "t-next" && r.Event == TaskExecutionRecord.End)),
                TimeSpan.FromSeconds(10),
                () => File.ReadAllText(path));
        }

        Assert.Equal(8, Read(path).Count);
    }

    [Fact]
    public async Task Without_the_setting_nothing_is_written()
    {
        await using var worker = await WorkerHarness.StartAsync(output);

        await worker.Session.AssignAsync("t-echo", "echo");
        await worker.Session.WaitForOutcomeAsync("t-echo");

        Assert.Empty(Directory.EnumerateFileSystemEntries(_directory));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static List<TaskExecutionRecord> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return [.. reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonSerializer.Deserialize<TaskExecutionRecord>(line, JsonSerializerOptions.Web)!)];
    }
}
