using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace PuoOps.Engine.Docker;

/// <summary>
/// Splits a Docker log stream into lines, keeping stdout and stderr apart. Without a TTY the daemon
/// multiplexes both streams into frames: an 8-byte header (stream type, 3 zero bytes, big-endian payload
/// length) then the payload; a frame can hold part of a line or several lines, so each stream keeps its
/// own unfinished line. Written by hand over one reused 64 KiB buffer because Docker.DotNet's
/// MultiplexedStream hands out one frame per call and copies; this keeps memory flat however long the log.
/// </summary>
internal sealed class LogStreamDecoder
{
    public const int Stdout = 1;
    public const int Stderr = 2;
    private const int HeaderLength = 8;

    private readonly Stream _stream;
    private readonly bool _multiplexed;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly MemoryStream?[] _partial = new MemoryStream?[3];
    private int _start;
    private int _end;
    private int _frameStream = Stdout;
    private long _frameRemaining;

    public LogStreamDecoder(Stream stream, bool multiplexed)
    {
        _stream = stream;
        _multiplexed = multiplexed;
    }

    /// <summary>Reads more and appends the complete lines found to <paramref name="lines"/>; false at the end of the stream.</summary>
    public async ValueTask<bool> ReadLinesAsync(List<(int Stream, string Line)> lines, CancellationToken cancellation)
    {
        if (_start > 0 && _start == _end)
            _start = _end = 0;
        if (_end == _buffer.Length)
        {
            // Keep the unread bytes (at most a header) and make room.
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellation).ConfigureAwait(false);
        if (read == 0)
        {
            for (var s = Stdout; s <= Stderr; s++)
                if (_partial[s] is { Length: > 0 } rest)
                    lines.Add((s, Decode(rest.GetBuffer().AsSpan(0, (int)rest.Length))));
            return false;
        }
        _end += read;
        Parse(lines);
        return true;
    }

    private void Parse(List<(int Stream, string Line)> lines)
    {
        while (_start < _end)
        {
            if (_multiplexed && _frameRemaining == 0)
            {
                if (_end - _start < HeaderLength)
                    return;
                var header = _buffer.AsSpan(_start, HeaderLength);
                _frameStream = header[0] == Stderr ? Stderr : Stdout;
                _frameRemaining = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
                _start += HeaderLength;
                continue;
            }
            var take = _multiplexed ? (int)Math.Min(_frameRemaining, _end - _start) : _end - _start;
            Split(_frameStream, _buffer.AsSpan(_start, take), lines);
            _start += take;
            if (_multiplexed)
                _frameRemaining -= take;
        }
    }

    private void Split(int stream, ReadOnlySpan<byte> payload, List<(int Stream, string Line)> lines)
    {
        while (payload.Length > 0)
        {
            var newline = payload.IndexOf((byte)'\n');
            if (newline < 0)
            {
                (_partial[stream] ??= new MemoryStream()).Write(payload);
                return;
            }
            var line = payload[..newline];
            if (_partial[stream] is { Length: > 0 } partial)
            {
                partial.Write(line);
                lines.Add((stream, Decode(partial.GetBuffer().AsSpan(0, (int)partial.Length))));
                partial.SetLength(0);
            }
            else
            {
                lines.Add((stream, Decode(line)));
            }
            payload = payload[(newline + 1)..];
        }
    }

    private static string Decode(ReadOnlySpan<byte> line) =>
        Encoding.UTF8.GetString(line.Length > 0 && line[^1] == '\r' ? line[..^1] : line);

    /// <summary>
    /// Splits docker's "2026-11-28T09:53:56.112532927Z message" into time and message. The daemon writes
    /// RFC 3339 with nanoseconds, more digits than .NET's parser takes, so the fraction is cut to 7 digits.
    /// </summary>
    public static (DateTimeOffset? Time, string Message) SplitTimestamp(string line)
    {
        var space = line.IndexOf(' ');
        var stamp = space < 0 ? line : line[..space];
        var message = space < 0 ? "" : line[(space + 1)..];
        var dot = stamp.IndexOf('.');
        if (dot > 0)
        {
            var zone = stamp.IndexOfAny(['Z', '+', '-'], dot);
            if (zone > dot + 8)
                stamp = string.Concat(stamp.AsSpan(0, dot + 8), stamp.AsSpan(zone));
        }
        return DateTimeOffset.TryParse(stamp, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? (time, message)
            : (null, line);
    }
}
