using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Compression;
using Microsoft.Win32.SafeHandles;

namespace PuoOps.Engine.Logs;

/// <summary>Whole lines of a log file, as read in one large piece. Every line but the file's last ends with '\n'.</summary>
public readonly struct LogChunk
{
    private readonly byte[] _buffer;
    private readonly int _start;
    private readonly int _length;

    internal LogChunk(byte[] buffer, int start, int length)
    {
        _buffer = buffer;
        _start = start;
        _length = length;
    }

    public ReadOnlySpan<byte> Bytes => _buffer.AsSpan(_start, _length);

    /// <summary>The lines in <paramref name="bytes"/>: its newlines, plus one for a last line without a newline.</summary>
    public static long CountLines(ReadOnlySpan<byte> bytes) =>
        bytes.Count((byte)'\n') + (bytes.Length > 0 && bytes[^1] != (byte)'\n' ? 1 : 0);
}

/// <summary>What a scan of one chunk returned, with the number of the chunk's first line in the file (from 1).</summary>
public readonly record struct ScannedChunk<T>(long FirstLineNumber, T Result);

/// <summary>
/// The one log reader of the module: reads a plain or gzip file (told apart by its magic bytes, not its name) in
/// large chunks of whole lines, LF or CRLF, and hands each chunk to a scanner on the thread pool, several at once,
/// returning their results in file order. A plain file is read by the scanning threads themselves, each chunk at its
/// own offset, so reading is spread over every core too; it is read up to the size it had when opened. A gzip file
/// is decompressed on one thread while the chunks before are scanned. Memory stays constant on any file size: a few
/// chunk buffers are in flight, and only what the scanner keeps (typically the few lines that match) outlives them.
/// A line longer than a chunk is scanned in its first part and the rest skipped (counted in TruncatedLines).
/// Files are read, not memory-mapped: a mapped log that logrotate's copytruncate empties kills the process (SIGBUS
/// becomes a fatal AccessViolationException in .NET; tried), where a read just ends early.
/// </summary>
public static class LogReader
{
    public const int ChunkSize = 1 << 20;

    /// <summary>How far a plain file's chunk reads on to finish its last line (so that its buffer is 2 MiB, a pool size).</summary>
    private const int LongestLine = ChunkSize - 1;

    /// <summary>A plain file's chunk: the byte before it, itself, and the end of its last line.</summary>
    private const int PlainBuffer = 1 + ChunkSize + LongestLine;

    /// <summary>Chunks in flight at once: being read, scanned or waiting for the consumer.</summary>
    private static readonly int InFlight = Environment.ProcessorCount + 2;

    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>One scanned chunk: the scanner's result, its line count, how far into the file it was, whether a line was cut.</summary>
    private readonly record struct Piece<T>(T Result, long Lines, long Position, bool Truncated);

    /// <summary>
    /// Scans <paramref name="path"/> chunk by chunk; <paramref name="scan"/> runs on pool threads and must only read
    /// the chunk. Counts lines and truncated lines into <paramref name="stats"/>, and reports progress on the
    /// consuming thread (so a cmdlet may write it directly). Opening errors are thrown by the first MoveNext;
    /// Ctrl+C (<paramref name="cancellation"/>) stops within a chunk.
    /// </summary>
    public static IEnumerable<ScannedChunk<T>> Scan<T>(string path, Func<LogChunk, T> scan, LogScanStats stats,
        Action<ProgressInfo>? progress, CancellationToken cancellation)
    {
        using var file = Open(path);
        var total = file.CanSeek ? file.Length : 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var reader = Task.CompletedTask;
        IEnumerable<Task<Piece<T>>> pieces;
        if (file.CanSeek && !IsGzip(file))
        {
            pieces = ReadAtOffsets(path, file.SafeFileHandle, total, scan, stop.Token);
        }
        else
        {
            var queue = new BlockingCollection<Task<Piece<T>>>(InFlight);
            reader = Task.Factory.StartNew(() => ReadStream(path, file, scan, queue, stop.Token), stop.Token,
                TaskCreationOptions.LongRunning, TaskScheduler.Default);
            pieces = queue.GetConsumingEnumerable(cancellation);
        }

        var pending = new Queue<Task<Piece<T>>>();
        var nextLine = 1L;
        var shown = System.Diagnostics.Stopwatch.StartNew();
        progress?.Invoke(new ProgressInfo("Reading logs", path, 0));
        using var source = pieces.GetEnumerator();
        try
        {
            while (true)
            {
                cancellation.ThrowIfCancellationRequested();
                while (pending.Count < InFlight && source.MoveNext())
                    pending.Enqueue(source.Current);
                if (!pending.TryDequeue(out var task))
                    break;
                task.Wait(cancellation);
                var piece = task.Result;
                yield return new ScannedChunk<T>(nextLine, piece.Result);
                nextLine += piece.Lines;
                stats.Lines += piece.Lines;
                stats.TruncatedLines += piece.Truncated ? 1 : 0;
                if (progress is not null && total > 0 && shown.Elapsed >= ProgressInterval)
                {
                    progress(new ProgressInfo("Reading logs", path, (int)(100 * piece.Position / total)));
                    shown.Restart();
                }
            }
            reader.GetAwaiter().GetResult();
            progress?.Invoke(new ProgressInfo("Reading logs", path, 100, Completed: true));
        }
        finally
        {
            // Stop the reading, and wait briefly for what is in flight so the file is closed before the next opens.
            stop.Cancel();
            try
            {
                Task.WaitAll([reader, .. pending], TimeSpan.FromSeconds(1));
            }
            catch (AggregateException)
            {
                // Reported above already, or the consumer stopped early and it no longer matters.
            }
        }
    }

    /// <summary>
    /// A plain file: chunk i is scanned by a pool thread that reads it itself, at offset i * ChunkSize. A chunk owns
    /// the lines that start in it: it skips the end of a line begun in the chunk before (reading the byte before its
    /// offset to know), and reads past its end to finish its last line.
    /// </summary>
    private static IEnumerable<Task<Piece<T>>> ReadAtOffsets<T>(string path, SafeFileHandle file, long length, Func<LogChunk, T> scan,
        CancellationToken cancellation)
    {
        for (var offset = 0L; offset < length && !cancellation.IsCancellationRequested; offset += ChunkSize)
        {
            var start = offset;
            yield return Task.Run(() =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent(PlainBuffer);
                try
                {
                    var (chunk, truncated) = ReadChunk(path, file, start, length, buffer);
                    return new Piece<T>(scan(chunk), LogChunk.CountLines(chunk.Bytes), Math.Min(start + ChunkSize, length), truncated);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }, cancellation);
        }
    }

    private static (LogChunk Chunk, bool Truncated) ReadChunk(string path, SafeFileHandle file, long offset, long length, byte[] buffer)
    {
        var from = Math.Max(0, offset - 1);
        var end = Math.Min(offset + ChunkSize, length);
        var filled = ReadAt(path, file, buffer.AsSpan(0, (int)(end - from)), from);
        var first = 0;
        if (offset > 0)
        {
            var newline = buffer.AsSpan(0, filled).IndexOf((byte)'\n');
            if (newline < 0)
                return (new LogChunk(buffer, 0, 0), false); // inside a line that began in an earlier chunk
            first = newline + 1;
        }
        var truncated = false;
        if (end < length && filled > 0 && buffer[filled - 1] != (byte)'\n')
        {
            // Finish the last line, in steps, up to LongestLine bytes past the chunk.
            while (true)
            {
                var step = (int)Math.Min(Math.Min(64 * 1024, PlainBuffer - filled), length - (from + filled));
                var read = step > 0 ? ReadAt(path, file, buffer.AsSpan(filled, step), from + filled) : 0;
                var newline = buffer.AsSpan(filled, read).IndexOf((byte)'\n');
                filled += read;
                if (newline >= 0)
                {
                    filled += newline + 1 - read;
                    break;
                }
                if (read == 0 || filled == PlainBuffer)
                {
                    truncated = filled == PlainBuffer;
                    break;
                }
            }
        }
        return (new LogChunk(buffer, first, filled - first), truncated);
    }

    private static int ReadAt(string path, SafeFileHandle file, Span<byte> target, long offset)
    {
        var total = 0;
        try
        {
            while (total < target.Length)
            {
                var read = RandomAccess.Read(file, target[total..], offset + total);
                if (read == 0)
                    break; // the file was truncated since it was opened (copytruncate rotation)
                total += read;
            }
            return total;
        }
        catch (IOException ex)
        {
            throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Logs.ReadFailed", $"Reading {path} failed: {ex.Message}", path, ex);
        }
    }

    /// <summary>A gzip file (or a pipe): decompressed on this thread into chunks of whole lines, each scanned on the pool.</summary>
    private static void ReadStream<T>(string path, FileStream file, Func<LogChunk, T> scan,
        BlockingCollection<Task<Piece<T>>> pending, CancellationToken cancellation)
    {
        try
        {
            using var stream = file.CanSeek ? new GZipStream(file, CompressionMode.Decompress, leaveOpen: true) : (Stream)file;
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
                    var chunk = new LogChunk(buffer, 0, end);
                    var owner = buffer;
                    var position = file.CanSeek ? file.Position : 0;
                    var work = Task.Run(() =>
                    {
                        try
                        {
                            return new Piece<T>(scan(chunk), LogChunk.CountLines(chunk.Bytes), position, truncated);
                        }
                        finally
                        {
                            ArrayPool<byte>.Shared.Return(owner);
                        }
                    });
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
        }
    }

    /// <summary>Reads until <paramref name="target"/> is full or the stream ends.</summary>
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
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
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

    /// <summary>gzip's magic bytes 1f 8b at the start of a seekable file; the file is left at its start.</summary>
    private static bool IsGzip(FileStream file)
    {
        Span<byte> magic = stackalloc byte[2];
        var read = file.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }
}
