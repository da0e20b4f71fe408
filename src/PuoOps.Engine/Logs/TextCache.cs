namespace PuoOps.Engine.Logs;

/// <summary>
/// The strings of byte sequences that repeat all through a log (client addresses, methods, paths, user agents), shared
/// by the threads scanning its chunks: a repeated text is decoded once, and is the same string instance wherever it
/// recurs, so the totals per address find it by reference instead of comparing characters. Memory is bounded: a fixed
/// table of slots indexed by hash, where a newer text replaces an older one; longer texts are not kept.
/// </summary>
internal sealed class TextCache(int slots)
{
    private const int Longest = 256;

    /// <summary>An immutable slot value, published by one reference write, so readers on other threads see it whole.</summary>
    private sealed class Slot(byte[] bytes, string text)
    {
        public readonly byte[] Bytes = bytes;
        public readonly string Text = text;
    }

    private readonly Slot?[] _slots = new Slot?[slots];

    /// <summary>The text of <paramref name="bytes"/> as <paramref name="decode"/> makes it; null (not kept) when it gives none.</summary>
    public string? Get(ReadOnlySpan<byte> bytes, Decode decode)
    {
        if (bytes.Length > Longest)
            return decode(bytes);
        var hash = new HashCode();
        hash.AddBytes(bytes);
        var index = (int)((uint)hash.ToHashCode() % (uint)_slots.Length);
        if (Volatile.Read(ref _slots[index]) is { } slot && bytes.SequenceEqual(slot.Bytes))
            return slot.Text;
        var text = decode(bytes);
        if (text is not null)
            Volatile.Write(ref _slots[index], new Slot(bytes.ToArray(), text));
        return text;
    }

    public delegate string? Decode(ReadOnlySpan<byte> bytes);
}
