using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TaskQueue.Broker.Diagnostics;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Audit;

/// <summary>
/// The audit trail: every admin action (and every refused or failed attempt at one) appended to one capped
/// Redis stream, <c>XADD tq:audit MAXLEN ~ N</c>, stamped by Redis's clock (the entry id), and logged. The
/// stream has no consumer groups, so trimming it loses nothing anyone is still to read.
/// </summary>
internal sealed partial class AuditTrail(IConnectionMultiplexer redis, IOptions<AuditOptions> options, ILogger<AuditTrail> logger)
{
    /// <summary>The longest target text kept; a long list of task ids is cut and counted.</summary>
    public const int MaxTargetLength = 512;

    private readonly AuditOptions _options = options.Value;

    /// <summary>Records an action. Never throws for Redis: the action's own result stands, and the failure is logged.</summary>
    public async Task RecordAsync(AuditRecord record)
    {
        Log.AdminAction(logger, record.Identity, record.Action, record.Queue, record.Target, record.Outcome);
        try
        {
            await redis.GetDatabase().StreamAddAsync(
                RedisKeys.Audit,
                [
                    new NameValueEntry(AuditFields.Identity, record.Identity),
                    new NameValueEntry(AuditFields.Action, record.Action),
                    new NameValueEntry(AuditFields.Queue, record.Queue),
                    new NameValueEntry(AuditFields.Target, record.Target),
                    new NameValueEntry(AuditFields.Outcome, record.Outcome),
                ],
                maxLength: _options.MaxEntries,
                useApproximateMaxLength: true);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            Log.AuditWriteFailed(logger, ex, record.Action, record.Identity);
        }
    }

    /// <summary>
    /// Up to <paramref name="limit"/> entries older than <paramref name="before"/> (an entry id; null: from the
    /// newest) whose queue <paramref name="visible"/> accepts, newest first.
    /// </summary>
    public async Task<AuditPage> ListAsync(Func<string, bool> visible, string? before, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        if (before is not null && !EntryId().IsMatch(before))
        {
            throw new ArgumentException($"before must be an audit entry id (e.g. \"1767225600000-0\"), not '{Shorten(before, 40)}'.", nameof(before));
        }

        var db = redis.GetDatabase();
        var found = new List<AuditEntryRecord>(limit + 1);
        var upTo = before is null ? "+" : "(" + before;
        var pageSize = Math.Clamp(limit * 2, 100, 1000);
        // Filtering reads past hidden entries; the trail's cap bounds how far.
        while (found.Count <= limit)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var page = await db.StreamRangeAsync(RedisKeys.Audit, "-", upTo, pageSize, Order.Descending);
            foreach (var entry in page)
            {
                var record = ToRecord(entry);
                if (visible(record.Record.Queue))
                {
                    found.Add(record);
                    if (found.Count > limit)
                    {
                        break;
                    }
                }
            }

            if (page.Length < pageSize)
            {
                break;
            }

            upTo = "(" + page[^1].Id;
        }

        return found.Count > limit
            ? new AuditPage(found[..limit], found[limit - 1].Id)
            : new AuditPage(found, null);
    }

    /// <summary>What an action on dead letters acted on: "all", or the ids (cut past <see cref="MaxTargetLength"/>, with their count).</summary>
    public static string Target(IReadOnlyList<TaskId> ids, bool all)
    {
        if (all || ids.Count == 0)
        {
            return "all";
        }

        var text = string.Join(",", ids.Select(id => id.ToString()));
        return text.Length <= MaxTargetLength ? text : $"{text[..MaxTargetLength]}… ({ids.Count} task ids)";
    }

    private static AuditEntryRecord ToRecord(StreamEntry entry)
    {
        string Field(string name) => (string?)entry[name] ?? "";
        var id = (string)entry.Id!;
        var ms = long.Parse(id.AsSpan(0, id.IndexOf('-', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
        return new AuditEntryRecord(
            id,
            DateTimeOffset.FromUnixTimeMilliseconds(ms),
            new AuditRecord(Field(AuditFields.Identity), Field(AuditFields.Action), Field(AuditFields.Queue), Field(AuditFields.Target), Field(AuditFields.Outcome)));
    }

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "…";

    [GeneratedRegex(@"^\d{1,20}-\d{1,20}$", RegexOptions.CultureInvariant)]
    private static partial Regex EntryId();
}
