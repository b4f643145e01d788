using System.Text.Json;
using Microsoft.Extensions.Options;
using TaskQueue.Worker.Diagnostics;

namespace TaskQueue.Worker.Runtime;

/// <summary>
/// Worker:ExecutionLog: one JSON line (<see cref="TaskExecutionRecord"/>) per handler start and end, an audit of
/// what really ran here that does not depend on the broker. Each line is a single unbuffered write: it is in
/// the kernel before the handler runs, so it survives the process being killed the next moment.
/// </summary>
internal sealed class ExecutionLog : IDisposable
{
    private readonly FileStream? _file;
    private readonly string _workerId;
    private readonly TimeProvider _time;
    private readonly ILogger<ExecutionLog> _logger;
    private readonly Lock _gate = new();

    public ExecutionLog(IOptions<WorkerOptions> options, TimeProvider time, ILogger<ExecutionLog> logger)
    {
        _workerId = options.Value.WorkerId;
        _time = time;
        _logger = logger;
        if (options.Value.ExecutionLog is { Length: > 0 } path)
        {
            var fullPath = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
            _file = new FileStream(fullPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        }
    }

    public void Started(TaskExecution execution) => Append(TaskExecutionRecord.Start, execution, outcome: null);

    public void Ended(TaskExecution execution, string outcome) => Append(TaskExecutionRecord.End, execution, outcome);

    public void Dispose() => _file?.Dispose();

    private void Append(string kind, TaskExecution execution, string? outcome)
    {
        if (_file is null)
        {
            return;
        }

        var record = new TaskExecutionRecord(
            kind, execution.TaskId, execution.Attempt, _workerId, Environment.ProcessId, execution.LeaseToken, _time.GetUtcNow(), outcome);
        var json = JsonSerializer.SerializeToUtf8Bytes(record, JsonSerializerOptions.Web);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        try
        {
            lock (_gate)
            {
                _file.Write(line);
            }
        }
        catch (IOException ex)
        {
            // An audit that cannot be written must not stop the work it audits.
            Log.ExecutionLogFailed(_logger, ex, execution.TaskId);
        }
    }
}
