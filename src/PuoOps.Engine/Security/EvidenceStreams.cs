using System.Security.Cryptography;
using System.Text;

namespace PuoOps.Engine.Security;

/// <summary>
/// A log file as it was when opened: exactly <see cref="Length"/> bytes, hashed as they are read, so a tar entry's
/// header, its data and the manifest all agree even while the application keeps appending. Should the file shrink
/// meanwhile (truncated by a log rotation), the missing bytes read as zeros and <see cref="Truncated"/> says so:
/// the archive stays readable and the manifest still hashes exactly what was archived.
/// </summary>
internal sealed class SnapshotStream(Stream source, long length) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _position;

    public bool Truncated { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => true; // TarWriter sizes an entry from Length - Position of a seekable stream
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    /// <summary>The SHA-256 of the bytes read so far, as lowercase hex.</summary>
    public string Sha256() => Convert.ToHexString(_hash.GetCurrentHash()).ToLowerInvariant();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var wanted = Wanted(buffer.Length);
        return wanted == 0 ? 0 : Took(buffer[..wanted], Truncated ? 0 : source.Read(buffer[..wanted]));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var wanted = Wanted(buffer.Length);
        if (wanted == 0)
            return 0;
        var read = Truncated ? 0 : await source.ReadAsync(buffer[..wanted], cancellationToken).ConfigureAwait(false);
        return Took(buffer.Span[..wanted], read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            source.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }

    private int Wanted(int room) => (int)Math.Min(room, length - _position);

    private int Took(Span<byte> chunk, int read)
    {
        if (read == 0)
        {
            Truncated = true;
            chunk.Clear();
            read = chunk.Length;
        }
        _hash.AppendData(chunk[..read]);
        _position += read;
        return read;
    }
}

/// <summary>The manifest format of coreutils' sha256sum, so <c>sha256sum -c SHA256SUMS</c> checks the evidence.</summary>
internal static class Sha256Sums
{
    public const string FileName = "SHA256SUMS";

    public static string Render(IEnumerable<EvidenceFile> files)
    {
        var text = new StringBuilder();
        foreach (var file in files)
        {
            // sha256sum escapes a name holding a backslash or a newline, and marks the line with a leading backslash.
            var escaped = file.Name.Contains('\\') || file.Name.Contains('\n');
            var name = escaped ? file.Name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal) : file.Name;
            text.Append(escaped ? "\\" : "").Append(file.Sha256).Append("  ").Append(name).Append('\n');
        }
        return text.ToString();
    }

    public static async Task<EvidenceFile> HashAsync(string path, string name, CancellationToken cancellation)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var hash = await SHA256.HashDataAsync(stream, cancellation).ConfigureAwait(false);
        return new EvidenceFile { Name = name, SizeBytes = stream.Length, Sha256 = Convert.ToHexString(hash).ToLowerInvariant() };
    }
}
