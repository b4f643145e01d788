using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TaskQueue.Broker.Storage;

namespace TaskQueue.Broker.Schedules;

/// <summary>
/// The id of a schedule slot's task, derived from (queue, schedule, slot time) alone: every broker that fires the slot
/// names the same task, so a slot can create at most one. Laid out as a version-7 GUID (the slot's ms first, then 74
/// bits of the SHA-256 of the three), so slot tasks sort by slot among the queue's ids like submitted ones by creation.
/// </summary>
public static class SlotTaskId
{
    public static TaskId For(string queue, string schedule, long slotMs)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"{queue}\n{schedule}\n{slotMs}")));
        Span<byte> id = stackalloc byte[16];
        Span<byte> ms = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(ms, slotMs);
        ms[2..].CopyTo(id);
        hash[..10].CopyTo(id[6..]);
        id[6] = (byte)(0x70 | (id[6] & 0x0F)); // version 7
        id[8] = (byte)(0x80 | (id[8] & 0x3F)); // variant 10
        return new TaskId(queue, Convert.ToHexStringLower(id));
    }
}
