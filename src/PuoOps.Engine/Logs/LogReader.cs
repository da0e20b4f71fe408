using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Compression;

namespace PuoOps.Engine.Logs;

/// <summary>Whole lines of a log file, as read in one large piece. Every line but the file's last ends with '\n'.</summary>
public readonly struct LogChunk
{
    private readonly byte[] _buffer;
    private readonly int _length;

    internal LogChunk(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(0, _length);

    /// <summary>The lines in <paramref name="bytes"/>: its newlines, plus one for a last line without a newline.</summary>
    public static long CountLines(ReadOnlySpan<byte> bytes) =>
        bytes.Count((byte)'\n') + (bytes.Length > 0 && bytes[^1] != (byte)'\n' ? 1 : 0);
}

/// <summary>What a scan of one chunk returned, with the number of the chunk's first line in the file (from 1).</summary>
public readonly record struct ScannedChunk<T>(long FirstLineNumber, T Result);

/// <summary>
/// The one log reader of the module: reads a plain or gzip file (told apart by its magic bytes, not its name)
/// in large chunks of whole lines, LF or CRLF, and hands each chunk to a scanner on the thread pool, several at
/// once, returning their results in file order. Memory stays constant on any file size: a few chunk buffers are
/// in flight, and only what the scanner keeps (typically the few lines that match) outlives them. A line longer
/// than a chunk is scanned in its first <see cref="ChunkSize"/> bytes and the rest skipped (flagged as Truncated).
/// </summary>
public static class LogReader
{
    public const int ChunkSize = 1 << 20;

    /// <summary>Chunks in flight at once: being read, scanned or waiting for the consumer.</summary>
    private static readonly int InFlight = Environment.ProcessorCount + 2;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// Scans <paramref name="path"/> chunk by chunk; <paramref name="scan"/> runs on pool threads and must only read
    /// the chunk. Counts files, lines and truncated lines into <paramref name="stats"/>, and reports progress on the
    /// consuming thread (so a cmdlet may write it directly). Opening errors are thrown by the first MoveNext;
    /// Ctrl+C (<paramref name="cancellation"/>) stops within a chunk.
    /// </summary>
    public static IEnumerable<ScannedChunk<T>> Scan<T>(string path, Func<LogChunk, T> scan, LogScanStats stats,
        Action<ProgressInfo>? progress, CancellationToken cancellation)
    {
        var file = Open(path);
        stats.Files++;
        return ScanOpened(path, file, scan, stats, progress, cancellation);
    }

    private static IEnumerable<ScannedChunk<T>> ScanOpened<T>(string path, FileStream file, Func<LogChunk, T> scan, LogScanStats stats,
        Action<ProgressInfo>? progress, CancellationToken cancellation)
    {
        var total = Math.Max(1, file.Length); // before the reader starts: it closes the file when done
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        using var pending = new BlockingCollection<Task<(T Result, long Lines, long BytesRead, bool Truncated)>>(InFlight);
        var reader = Task.Factory.StartNew(() => Read(path, file, scan, pending, stop.Token), stop.Token,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var nextLine = 1L;
        var shown = System.Diagnostics.Stopwatch.StartNew();
        progress?.Invoke(new ProgressInfo("Reading logs", path, 0));
        try
        {
            foreach (var task in pending.GetConsumingEnumerable(cancellation))
            {
                task.Wait(cancellation);
                var (result, lines, bytesRead, truncated) = task.Result;
                yield return new ScannedChunk<T>(nextLine, result);
                nextLine += lines;
                stats.Lines += lines;
                stats.TruncatedLines += truncated ? 1 : 0;
                if (progress is not null && shown.Elapsed >= ProgressInterval)
                {
                    progress(new ProgressInfo("Reading logs", path, (int)(100 * bytesRead / total)));
                    shown.Restart();
                }
            }
            reader.GetAwaiter().GetResult();
            progress?.Invoke(new ProgressInfo("Reading logs", path, 100, Completed: true));
        }
        finally
        {
            stop.Cancel();
            // The reader stops at its next chunk; wait briefly so the file is closed before the next one opens.
            try
            {
                reader.Wait(TimeSpan.FromSeconds(1));
            }
            catch (AggregateException)
            {
                // Already reported above, or the consumer stopped early and it no longer matters.
            }
        }
    }

    private static void Read<T>(string path, FileStream file, Func<LogChunk, T> scan,
        BlockingCollection<Task<(T, long, long, bool)>> pending, CancellationToken cancellation)
    {
        try
        {
            using var stream = IsGzip(file) ? new GZipStream(file, CompressionMode.Decompress) : (Stream)file;
            var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
            var owned = true; // false once a scan task has the buffer (it returns it to the pool)
            var filled = 0;
            var skipping = false; // in the rest of a line longer than a chunk
            try
            {
                while (!cancellation.IsCancellationRequested)
                {
                    filled += Fill(path, stream, buffer.AsSpan(filled, ChunkSize - filled));
                    if (skipping)
                    {
                        var newline = buffer.AsSpan(0, filled).IndexOf((byte)'\n');
                        var rest = newline < 0 ? 0 : filled - newline - 1;
                        buffer.AsSpan(filled - rest, rest).CopyTo(buffer);
                        skipping = newline < 0 && filled == ChunkSize;
                        filled = rest;
                        continue;
                    }
                    if (filled == 0)
                        break;
                    var atEnd = filled < ChunkSize; // ReadAtLeast returns less only at the end
                    var end = atEnd ? filled : buffer.AsSpan(0, filled).LastIndexOf((byte)'\n') + 1;
                    var truncated = end == 0;
                    if (truncated)
                        end = filled;
                    byte[]? next = null;
                    if (!atEnd)
                    {
                        // The partial last line moves to the next buffer before this one is handed over.
                        next = ArrayPool<byte>.Shared.Rent(ChunkSize);
                        buffer.AsSpan(end, filled - end).CopyTo(next);
                    }
                    var work = Dispatch(scan, buffer, end, file.Position, truncated);
                    owned = false;
                    pending.Add(work, cancellation);
                    if (next is null)
                        break;
                    buffer = next;
                    owned = true;
                    filled -= end;
                    skipping = truncated;
                }
            }
            finally
            {
                if (owned)
                    ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            pending.CompleteAdding();
            file.Dispose();
        }
    }

    private static Task<(T, long, long, bool)> Dispatch<T>(Func<LogChunk, T> scan, byte[] buffer, int length, long position, bool truncated) =>
        Task.Run(() =>
        {
            try
            {
                var chunk = new LogChunk(buffer, length);
                return (scan(chunk), LogChunk.CountLines(chunk.Bytes), position, truncated);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        });

    /// <summary>Reads until <paramref name="target"/> is full or the file ends.</summary>
    private static int Fill(string path, Stream stream, Span<byte> target)
    {
        try
        {
            return stream.ReadAtLeast(target, target.Length, throwOnEndOfStream: false);
        }
        catch (InvalidDataException ex)
        {
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Logs.CorruptGzip",
                $"{path} is damaged gzip data ({ex.Message}); the lines before the damage were read. Check it with 'gzip -t'.", path, ex);
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Logs.ReadFailed", $"Reading {path} failed: {ex.Message}", path, ex);
        }
    }

    /// <summary>Opens a log for reading while its writer goes on writing, rotating or deleting it.</summary>
    private static FileStream Open(string path)
    {
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0, FileOptions.SequentialScan);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.Logs.PermissionDenied",
                $"Cannot read {path}: permission denied. Run as a user who may read it (root, or a member of its group such as adm).", path, ex);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Logs.NotFound", $"Cannot find the log file {path}.", path, ex);
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Logs.ReadFailed", $"Cannot open {path}: {ex.Message}", path, ex);
        }
    }

    /// <summary>gzip's magic bytes 1f 8b; the stream is left at its start.</summary>
    private static bool IsGzip(FileStream file)
    {
        if (!file.CanSeek)
            return false;
        Span<byte> magic = stackalloc byte[2];
        var read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
}
