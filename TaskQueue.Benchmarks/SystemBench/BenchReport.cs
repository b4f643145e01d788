using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TaskQueue.Client;
using TaskQueue.Testing;

namespace TaskQueue.Benchmarks.SystemBench;

/// <summary>One measured figure over several runs: the median is what the table shows, with the range.</summary>
internal sealed record Figure(string Name, string Description, string Unit, IReadOnlyList<double> Runs)
{
    public double Median
    {
        get
        {
            var sorted = Runs.Order().ToArray();
            return sorted.Length == 0 ? double.NaN
                : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
                : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }
    }

    public double Min => Runs.Count == 0 ? double.NaN : Runs.Min();

    public double Max => Runs.Count == 0 ? double.NaN : Runs.Max();
}

/// <summary>Where the benchmark ran: figures from a 2-core laptop and a 64-core server are not comparable.</summary>
internal sealed record MachineInfo(
    int Cores, string Cpu, string Os, string Runtime, string RedisVersion, string LoadAtStart, string LoadAtEnd);

/// <summary>The JSON file: every figure by name, plus what is needed to compare two files.</summary>
internal sealed record BenchResult(
    int Version,
    DateTimeOffset Timestamp,
    MachineInfo Machine,
    BenchSettings Settings,
    IReadOnlyList<FigureJson> Figures,
    IReadOnlyList<string> Notes)
{
    public const int CurrentVersion = 1;

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

internal sealed record FigureJson(string Name, string Description, string Unit, double Median, double Min, double Max, IReadOnlyList<double> Runs)
{
    public static FigureJson From(Figure figure) => new(
        figure.Name, figure.Description, figure.Unit, Round(figure.Median), Round(figure.Min), Round(figure.Max), [.. figure.Runs.Select(Round)]);

    private static double Round(double value) => double.IsFinite(value) ? Math.Round(value, 3) : value;
}

/// <summary>Collects figures in the order they are measured, prints the table and writes the JSON.</summary>
internal sealed class BenchReport
{
    private readonly Dictionary<string, Figure> _figures = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];

    public List<string> Notes { get; } = [];

    public IEnumerable<Figure> Figures => _order.Select(name => _figures[name]);

    public void Add(string name, string description, string unit, double value)
    {
        if (_figures.TryGetValue(name, out var figure))
        {
            _figures[name] = figure with { Runs = [.. figure.Runs, value] };
        }
        else
        {
            _figures[name] = new Figure(name, description, unit, [value]);
            _order.Add(name);
        }
    }

    public async Task PrintAsync(TextWriter output)
    {
        var rows = Figures.Select(f => (f.Description, Median: Format(f.Median), Range: f.Runs.Count > 1 ? $"{Format(f.Min)} - {Format(f.Max)}" : "", f.Unit)).ToList();
        var width = Math.Max(6, rows.Max(r => r.Description.Length));
        var medianWidth = Math.Max(6, rows.Max(r => r.Median.Length));
        var rangeWidth = Math.Max(9, rows.Max(r => r.Range.Length));
        await output.WriteLineAsync($"| {"figure".PadRight(width)} | {"median".PadLeft(medianWidth)} | {"min - max".PadRight(rangeWidth)} | unit");
        await output.WriteLineAsync($"|{new string('-', width + 2)}|{new string('-', medianWidth + 1)}:|{new string('-', rangeWidth + 2)}|------");
        foreach (var (description, median, range, unit) in rows)
        {
            await output.WriteLineAsync($"| {description.PadRight(width)} | {median.PadLeft(medianWidth)} | {range.PadRight(rangeWidth)} | {unit}");
        }

        foreach (var note in Notes)
        {
            await output.WriteLineAsync("note: " + note);
        }
    }

    public BenchResult ToResult(DateTimeOffset timestamp, MachineInfo machine, BenchSettings settings) =>
        new(BenchResult.CurrentVersion, timestamp, machine, settings, [.. Figures.Select(FigureJson.From)], [.. Notes]);

    /// <summary>Three significant figures, enough for noisy measurements; thousands separated.</summary>
    public static string Format(double value)
    {
        if (!double.IsFinite(value))
        {
            return "n/a";
        }

        var magnitude = Math.Abs(value);
        var format = magnitude >= 100 ? "N0" : magnitude >= 10 ? "N1" : magnitude >= 1 ? "N2" : "N3";
        return value.ToString(format, CultureInfo.InvariantCulture);
    }
}
