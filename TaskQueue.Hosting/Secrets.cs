using System.Text;
using Aspire.Hosting.ApplicationModel;

namespace TaskQueue.Hosting;

/// <summary>How TaskQueue.Hosting makes and hands over secrets: generated parameter values, owner-only files.</summary>
internal static class Secrets
{
    /// <summary>
    /// A generated default for a secret parameter: 32 letters and digits (about 186 bits; no special characters, so
    /// the value fits a Redis connection string, a configuration file and an HTTP header without escaping).
    /// </summary>
    public static GenerateParameterDefault Generated() => new() { MinLength = 32, Special = false };

    /// <summary>Writes <paramref name="text"/> to a file only its owner may read or write (mode 0600 on Unix).</summary>
    public static async Task WriteOwnerOnlyAsync(string path, string text, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var file = new FileStream(path, options))
        {
            await file.WriteAsync(Encoding.UTF8.GetBytes(text), cancellationToken);
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite); // an older file keeps its mode otherwise
        }
    }

    /// <summary>A value as a double-quoted redis.conf string (backslashes and quotes escaped).</summary>
    public static string RedisConfigQuoted(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
