using System.Text.Json;
using System.Text.Json.Serialization;
using StackExchange.Redis;

namespace TaskQueue.Broker.Storage;

/// <summary>One failed attempt of a task: its number, error, worker, when it ended and what came of it.</summary>
/// <param name="Outcome">"reclaimed" (ready again at once after a lost lease), "retrying", "dead-lettered" or "cancelled".</param>
public sealed record FailedAttempt(int Attempt, string Error, string? WorkerId, DateTimeOffset FinishedAt, string Outcome);

/// <summary>
/// Reads a task's attempt history (<see cref="RedisKeys.Attempts"/>): the failed attempts Scripts/lib/settle.lua appends,
/// at most <see cref="RedisKeys.AttemptHistoryCap"/>, the newest kept, oldest first. Expired and deleted with the task.
/// </summary>
public sealed class AttemptHistory(IConnectionMultiplexer redis)
{
    public async Task<IReadOnlyList<FailedAttempt>> ReadAsync(TaskId id, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var entries = await redis.GetDatabase().ListRangeAsync(RedisKeys.Attempts(id));
        var attempts = new List<FailedAttempt>(entries.Length);
        foreach (var entry in entries)
        {
            if (entry.IsNullOrEmpty)
            {
                continue;
            }

            var json = JsonSerializer.Deserialize<Entry>((string)entry!);
            if (json is not null)
            {
                attempts.Add(new FailedAttempt(
                    json.Attempt, json.Error ?? "", string.IsNullOrEmpty(json.Worker) ? null : json.Worker,
                    DateTimeOffset.FromUnixTimeMilliseconds(json.FinishedAt), json.Outcome ?? ""));
            }
        }

        return attempts;
    }

    // The object settle.lua's record_attempt writes (cjson; the numbers as JSON numbers).
    private sealed record Entry(
        [property: JsonPropertyName("attempt")] int Attempt,
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("worker")] string? Worker,
        [property: JsonPropertyName("finished_at")] long FinishedAt,
        [property: JsonPropertyName("outcome")] string? Outcome);
}
