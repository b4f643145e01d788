using System.Globalization;
using TaskQueue.Client;

namespace TaskQueue.Cli;

/// <summary>
/// The text progress bar of <c>wait --progress</c>: one line per watch event ("[#####-----]  50% leased 1/3 …").
/// On a terminal a progress update redraws the current line; anywhere else (a pipe, a file, a CI log) each event
/// is a line of its own, so the output reads top to bottom.
/// </summary>
internal sealed class ProgressBar(TextWriter output, bool redraw)
{
    private const int Width = 30;
    private bool _lineOpen;

    /// <summary>True when <paramref name="output"/> is the console and the console is a terminal.</summary>
    public static bool CanRedraw(TextWriter output) => ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;

    public async Task WriteAsync(TaskWatchEvent watched)
    {
        var line = Line(watched.Task);
        if (!redraw)
        {
            await output.WriteLineAsync(line);
            return;
        }

        // Progress redraws the line; a state change keeps the line it ends and starts a new one.
        if (_lineOpen && watched.Kind != TaskWatchEventKind.Progress)
        {
            await output.WriteLineAsync();
        }

        await output.WriteAsync("\r" + line.PadRight(Console.IsOutputRedirected ? 0 : Math.Max(0, SafeWidth() - 1)));
        _lineOpen = true;
    }

    /// <summary>Ends the line being redrawn, if any.</summary>
    public async Task EndAsync()
    {
        if (_lineOpen)
        {
            await output.WriteLineAsync();
            _lineOpen = false;
        }
    }

    public static string Line(TaskSnapshot task)
    {
        var percent = task.IsFinal && task.State == TaskState.Completed ? 100 : Math.Clamp(task.ProgressPercent ?? 0, 0, 100);
        var filled = percent * Width / 100;
        var bar = new string('#', filled) + new string('-', Width - filled);
        var state = task.State.ToString().ToLowerInvariant();
        var message = task.ProgressMessage is { Length: > 0 } text ? " " + text : "";
        return string.Create(CultureInfo.InvariantCulture, $"[{bar}] {percent,3}% {state} {task.Attempt}/{task.MaxAttempts}{message}");
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
