using System.Globalization;
using System.Text;

namespace TaskQueue.Broker.Storage;

/// <summary>
/// Redis Cluster's hash slots, as the servers compute them: CRC16 (XMODEM) of a key's hash tag (the part between the
/// first <c>{</c> and the next <c>}</c>, when not empty) or of the whole key, modulo 16384. <see cref="Tag"/> names one
/// short hash tag per slot, so a key that must share a queue's slot without naming the queue (its slot's due index,
/// registry and schedule index, <see cref="RedisKeys.SlotDue"/>) can be built: every broker derives the same table.
/// </summary>
public static class ClusterSlots
{
    public const int Count = 16384;

    private static readonly Lazy<string[]> s_tags = new(BuildTags);

    /// <summary>The slot of <paramref name="key"/>.</summary>
    public static int Of(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        return Crc16(Encoding.UTF8.GetBytes(key)) % Count;
    }

    /// <summary>The slot of a queue's keys (its hash tag is its name).</summary>
    public static int OfQueue(string queue) => Of(RedisKeys.QueuePrefix(queue));

    /// <summary>The canonical hash tag of <paramref name="slot"/>: the smallest decimal number whose slot it is.</summary>
    public static string Tag(int slot)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Count);
        return s_tags.Value[slot];
    }

    /// <summary>The canonical hash tag of the slot of <paramref name="queue"/>'s keys.</summary>
    public static string TagOfQueue(string queue) => Tag(OfQueue(queue));

    private static string[] BuildTags()
    {
        var tags = new string[Count];
        var left = Count;
        for (var n = 0; left > 0; n++)
        {
            var text = n.ToString(CultureInfo.InvariantCulture);
            var slot = Crc16(Encoding.ASCII.GetBytes(text)) % Count;
            if (tags[slot] is null)
            {
                tags[slot] = text;
                left--;
            }
        }

        return tags;
    }

    private static int Crc16(ReadOnlySpan<byte> bytes)
    {
        var crc = 0;
        foreach (var b in bytes)
        {
            crc ^= b << 8;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }

            crc &= 0xFFFF;
        }

        return crc;
    }
}
