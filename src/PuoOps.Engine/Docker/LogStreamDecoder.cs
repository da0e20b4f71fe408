using System.Globalization;
using System.Text;
using Docker.DotNet;

namespace PuoOps.Engine.Docker;

/// <summary>
/// Splits a Docker log stream into lines, keeping stdout and stderr apart. Docker.DotNet's MultiplexedStream
/// takes the frames apart (without a TTY the daemon multiplexes both streams: an 8-byte header, then the
/// payload); a frame can hold part of a line or several lines, so each stream keeps its own unfinished line.
/// One 64 KiB buffer is reused for every read, so memory stays flat however long the log.
/// </summary>
internal sealed class LogStreamDecoder
{
    public const int Stdout = 1;
    public const int Stderr = 2;

    private readonly MultiplexedStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly MemoryStream?[] _partial = new MemoryStream?[3];

    public LogStreamDecoder(MultiplexedStream stream)
    {
        _stream = stream;
    }

    /// <summary>Reads more and appends the complete lines found to <paramref name="lines"/>; false at the end of the stream.</summary>
    public async ValueTask<bool> ReadLinesAsync(List<(int Stream, string Line)> lines, CancellationToken cancellation)
    {
        var read = await _stream.ReadOutputAsync(_buffer, 0, _buffer.Length, cancellation).ConfigureAwait(false);
        if (read.EOF)
        {
            for (var s = Stdout; s <= Stderr; s++)
                if (_partial[s] is { Length: > 0 } rest)
                    lines.Add((s, Decode(rest.GetBuffer().AsSpan(0, (int)rest.Length))));
            return false;
        }
        Split(read.Target == MultiplexedStream.TargetStream.StandardError ? Stderr : Stdout, _buffer.AsSpan(0, read.Count), lines);
        return true;
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
