using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary><c>taskqueue audit</c>: the broker's audit trail of admin actions, newest first (needs admin scope).</summary>
internal static class AuditCommand
{
    public static Command Create(CliHost host)
    {
        var queue = new Option<string?>("--queue", "-q") { Description = "Only this queue's entries (default: every queue you administer)." };
        var limit = new Option<int>("--limit") { Description = "Show at most this many (1 to 1000).", DefaultValueFactory = _ => 50 };
        var before = new Option<string?>("--before") { Description = "Only entries older than this entry id (the cursor a page ends with)." };
        var json = TaskQueueCli.JsonOption();
        limit.Validators.Add(result =>
        {
            if (result.GetValue(limit) is < 1 or > 1000)
            {
                result.AddError("--limit must be 1 to 1000.");
            }
        });
        var command = new Command("audit", "Show the audit trail of admin actions (cancel, dead-letter replay and purge), newest first.")
        {
            queue, limit, before, json,
        };
        command.SetAction((parseResult, cancellationToken) => host.RunAsync(parseResult, async (cli, token) =>
        {
            var page = await cli.Client.ListAuditEntriesAsync(
                parseResult.GetValue(queue), parseResult.GetValue(limit), parseResult.GetValue(before), token);
            if (parseResult.GetValue(json))
            {
                var document = new AuditPageJson(
                    [.. page.Entries.Select(e => new AuditEntryJson(e.Id, e.Time.ToUniversalTime(), e.Identity, e.Action, e.Queue, e.Target, e.Outcome))],
                    page.NextBefore);
                await cli.Output.WriteLineAsync(JsonSerializer.Serialize(document, AuditJsonContext.Default.AuditPageJson));
                return CliHost.ExitOk;
            }

            foreach (var entry in page.Entries)
            {
                await cli.Output.WriteLineAsync($"{Formatting.Time(entry.Time)}  {entry.Identity}  {entry.Action}  {entry.Queue}  {entry.Target}  {entry.Outcome}");
            }

            await cli.Output.WriteLineAsync(
                page.NextBefore is { } next ? $"{page.Entries.Count} shown; older: --before {next}" : $"{page.Entries.Count} shown");
            return CliHost.ExitOk;
        }, cancellationToken));
        return command;
    }
}

/// <summary><c>audit --json</c>: the entries, newest first, and the cursor of the next page (null at the end).</summary>
internal sealed record AuditPageJson(IReadOnlyList<AuditEntryJson> Entries, string? NextBefore);

/// <summary>One audit entry in <c>audit --json</c>.</summary>
internal sealed record AuditEntryJson(string Id, DateTimeOffset Time, string Identity, string Action, string Queue, string Target, string Outcome);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(AuditPageJson))]
internal sealed partial class AuditJsonContext : JsonSerializerContext;
