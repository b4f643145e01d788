using System.Collections.Concurrent;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace TaskQueue.Tests.Faults;

/// <summary>
/// Collects the ledger of every fault run and prints them all, with a summary, when the collection is done.
/// `dotnet test` shows neither a test's stdout nor a passing test's output, so the tables go out as xunit
/// diagnostic messages too (xunit.runner.json turns those on), which it prints whatever the verbosity.
/// </summary>
public sealed class FaultReport(IMessageSink diagnostics) : IDisposable
{
    private readonly ConcurrentQueue<FaultLedger> _ledgers = new();

    internal void Add(FaultLedger ledger, ITestOutputHelper output)
    {
        _ledgers.Enqueue(ledger);
        var table = LedgerTable.Format(ledger);
        output.WriteLine(table);
        Console.WriteLine(table);
        if (FaultSettings.ReportFile is { } file)
        {
            File.AppendAllText(file, table + Environment.NewLine);
        }
    }

    public void Dispose()
    {
        if (_ledgers.IsEmpty)
        {
            return;
        }

        var report = string.Join(Environment.NewLine, _ledgers.Select(LedgerTable.Format)) + Environment.NewLine + LedgerTable.Summary(_ledgers);
        Console.WriteLine(report);
        diagnostics.OnMessage(new DiagnosticMessage("Fault campaign ledgers" + Environment.NewLine + report));
        if (FaultSettings.ReportFile is { } file)
        {
            File.AppendAllText(file, LedgerTable.Summary(_ledgers) + Environment.NewLine);
        }
    }
}
