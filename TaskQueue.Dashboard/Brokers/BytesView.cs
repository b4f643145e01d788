using System.Text;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>A payload, result or checkpoint shown safely: UTF-8 text when it is printable text, else hex; cut at a limit.</summary>
public sealed record BytesView(string Kind, string Text, int Length, bool Truncated)
{
    /// <summary>The most bytes a page shows of one blob.</summary>
    public const int Limit = 4096;

    private static readonly UTF8Encoding s_strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static BytesView Of(ReadOnlyMemory<byte> bytes)
    {
        var shown = bytes.Span[..Math.Min(bytes.Length, Limit)];
        var truncated = shown.Length < bytes.Length;
        if (TryText(shown, truncated, out var text))
        {
            return new BytesView("text", text, bytes.Length, truncated);
        }

        return new BytesView("hex", Hex(shown), bytes.Length, truncated);
    }

    private static bool TryText(ReadOnlySpan<byte> bytes, bool truncated, out string text)
    {
        text = "";
        // A cut may split a multi-byte character: drop the incomplete tail (at most 3 bytes) before decoding.
        for (var drop = 0; drop <= (truncated ? 3 : 0) && drop < bytes.Length + 1; drop++)
        {
            try
            {
                text = s_strict.GetString(bytes[..(bytes.Length - drop)]);
                return text.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t');
            }
            catch (DecoderFallbackException)
            {
            }
        }

        return false;
    }

    private static string Hex(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder(bytes.Length * 3);
        for (var i = 0; i < bytes.Length; i += 16)
        {
            var line = bytes.Slice(i, Math.Min(16, bytes.Length - i));
            builder.Append(i.ToString("x6", System.Globalization.CultureInfo.InvariantCulture)).Append("  ").AppendJoin(' ', line.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))).Append('\n');
        }

        return builder.ToString();
    }
}
