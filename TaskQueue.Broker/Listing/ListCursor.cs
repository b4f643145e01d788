using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Listing;

/// <summary>
/// Where a page of <see cref="TaskLister"/> ended: the last index entry read (a lane and stream entry id for
/// ready tasks, or a group lane and its score; a score and task id for the sorted sets), bound to the state and order it was made for. Opaque
/// to clients (base64url text); anything that does not decode to a cursor for the same listing is bad input.
/// </summary>
internal sealed partial record ListCursor(string Position, string Member)
{
    private const string Version = "v1";
    private const int MaxEncodedLength = 1024;
    // "<prio>:<type>", and a group lane's mark and group after it.
    private const int MaxLaneLength = 256 + 1 + TaskValidation.MaxGroupLength;

    public string Encode(string source, bool oldestFirst) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Join('\n', Version, source, Order(oldestFirst), Position, Member)));

    /// <summary>The cursor in <paramref name="text"/>, or null for none; throws <see cref="TaskValidationException"/> for garbage.</summary>
    public static ListCursor? Decode(string? text, string source, bool oldestFirst)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        string[] parts;
        try
        {
            if (text.Length > MaxEncodedLength)
            {
                throw new FormatException("too long");
            }

            parts = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Base64Url.DecodeFromChars(text)).Split('\n');
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            throw Invalid("it is not a cursor this broker made");
        }

        if (parts.Length != 5 || parts[0] != Version)
        {
            throw Invalid("it is not a cursor this broker made");
        }

        if (parts[1] != source || parts[2] != Order(oldestFirst))
        {
            throw Invalid($"it continues a listing of {parts[1]} tasks, {parts[2]}; ask for the same state and order");
        }

        var (position, member) = (parts[3], parts[4]);
        var valid = source == TaskLister.ReadySource
            ? position.Length is > 0 and <= MaxLaneLength
              && !position.Any(c => char.IsControl(c) && c != RedisKeys.GroupMark)
              && (StreamId().IsMatch(member) || (position.Contains(RedisKeys.GroupMark, StringComparison.Ordinal) && Score().IsMatch(member)))
            : Score().IsMatch(position) && double.TryParse(position, NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
              && double.IsFinite(score) && LocalId().IsMatch(member);
        return valid ? new ListCursor(position, member) : throw Invalid("its position is malformed");
    }

    private static string Order(bool oldestFirst) => oldestFirst ? "asc" : "desc";

    private static TaskValidationException Invalid(string why) => new("cursor", $"the cursor is not valid: {why} (start again without one)");

    [GeneratedRegex(@"^\d{1,20}-\d{1,20}$")]
    private static partial Regex StreamId();

    [GeneratedRegex(@"^-?\d{1,20}(\.\d{1,20})?([eE][+-]?\d{1,3})?$")]
    private static partial Regex Score();

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex LocalId();
}
