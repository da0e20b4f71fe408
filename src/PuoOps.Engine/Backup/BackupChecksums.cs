using System.Runtime.Intrinsics.X86;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace PuoOps.Engine.Backup;

/// <summary>
/// The digest of a piece of a backup: one file of a directory-format backup (empty for a custom-format
/// file), from <see cref="Offset"/> for <see cref="Length"/> bytes. Exactly one of <see cref="Sha512"/>
/// and <see cref="Sha256"/> is set, and names the algorithm.
/// </summary>
internal sealed class BackupChunk
{
    public string File { get; set; } = "";
    public long Offset { get; set; }
    public long Length { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Sha512 { get; set; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Sha256 { get; set; }

    internal HashAlgorithmName Algorithm => Sha512 is null ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512;

    internal string? Digest => Sha512 ?? Sha256;

    internal void SetDigest(HashAlgorithmName algorithm, string digest)
    {
        if (algorithm == HashAlgorithmName.SHA512)
            Sha512 = digest;
        else
            Sha256 = digest;
    }
}

/// <summary>What a backup's content hashes to: the whole backup's SHA-256 and its chunks' digests.</summary>
internal sealed record BackupDigest(string Sha256, List<BackupChunk> Chunks);

/// <summary>The outcome of checking a backup's content against its manifest.</summary>
internal sealed record ChecksumCheck(bool? Matches, IReadOnlyList<string> Problems);

/// <summary>
/// Checksums of backups. The manifest keeps the whole backup's SHA-256 (what sha256sum prints for a
/// custom-format file) and a digest of every 32 MiB chunk. Verification hashes the chunks on every core
/// at once: a hash is one sequential stream, so a read-back of the whole file alone would take one core
/// several seconds per GB. Every byte is still checked against a SHA-2 digest from the manifest, and a
/// damaged backup is reported by chunk.
/// </summary>
internal static class BackupChecksums
{
    public const int ChunkSize = 32 << 20;

    /// <summary>
    /// What new chunks are hashed with: SHA-256 on a CPU with SHA-256 instructions (then it is the
    /// fastest), otherwise SHA-512, which software computes on 64-bit words and so about twice as fast
    /// (measured here, without SHA instructions: SHA-256 about 200-250 MB/s a core, SHA-512 400-580).
    /// The manifest names the algorithm of each chunk, so verification works on any machine.
    /// </summary>
    public static readonly HashAlgorithmName ChunkAlgorithm = HasSha256Instructions() ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512;

    private static bool HasSha256Instructions() =>
        System.Runtime.Intrinsics.Arm.Sha256.IsSupported
        || (X86Base.IsSupported && (X86Base.CpuId(7, 0).Ebx & (1 << 29)) != 0); // CPUID.(EAX=7,ECX=0):EBX bit 29, SHA extensions

    /// <summary>Large blocks for the file system and the hash: fewer system calls and hash calls.</summary>
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// Copies <paramref name="source"/> (pg_dump's stdout) into a new file at <paramref name="path"/>,
    /// hashing it on the way, so the manifest's checksums cost no second read of the file. The caller
    /// makes the file durable (<see cref="FlushToDisk"/>).
    /// </summary>
    public static BackupDigest CopyAndHash(Stream source, string path, int chunkSize = ChunkSize)
    {
        using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var chunk = IncrementalHash.CreateHash(ChunkAlgorithm);
        var chunks = new List<BackupChunk>();
        using var file = AtomicFile.CreateExclusive(path, bufferSize: 0); // owner-only from the start, never through a symlink
        long offset = 0, chunkStart = 0;

        void HashAndWrite(byte[] buffer, int filled)
        {
            whole.AppendData(buffer, 0, filled);
            file.Write(buffer, 0, filled);
            for (var at = 0; at < filled;)
            {
                var take = (int)Math.Min(filled - at, chunkStart + chunkSize - offset);
                chunk.AppendData(buffer, at, take);
                at += take;
                offset += take;
                if (offset - chunkStart == chunkSize)
                {
                    chunks.Add(Chunk(chunkStart, offset - chunkStart, chunk));
                    chunkStart = offset;
                }
            }
        }

        // Two buffers: while one block is hashed and written on another core, this thread keeps draining
        // the pipe into the other, so pg_dump (the slow end) never waits on a full pipe for the hashes.
        var buffers = new[] { new byte[BufferSize], new byte[BufferSize] };
        var pending = Task.CompletedTask;
        try
        {
            for (var next = 0; ; next ^= 1)
            {
                var buffer = buffers[next];
                var filled = Fill(source, buffer);
                pending.GetAwaiter().GetResult(); // the other buffer is free again; a write error surfaces here
                if (filled == 0)
                    break;
                pending = Task.Run(() => HashAndWrite(buffer, filled));
            }
        }
        catch when (!pending.IsCompleted)
        {
            // The pipe broke (pg_dump killed): let the block in hand finish before the file is closed.
            pending.ContinueWith(_ => { }, TaskScheduler.Default).Wait();
            throw;
        }
        if (offset > chunkStart || chunks.Count == 0)
            chunks.Add(Chunk(chunkStart, offset - chunkStart, chunk));
        return new BackupDigest(Hex(whole.GetHashAndReset()), chunks);
    }

    /// <summary>Reads until the buffer is full or the stream ends: a pipe returns a few KiB per read.</summary>
    private static int Fill(Stream source, byte[] buffer)
    {
        var filled = 0;
        int read;
        while (filled < buffer.Length && (read = source.Read(buffer, filled, buffer.Length - filled)) > 0)
            filled += read;
        return filled;
    }

    /// <summary>fsync, as pg_dump does with its own output file: the backup survives a crash once renamed.</summary>
    public static void FlushToDisk(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        file.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Hashes a backup already on disk (a directory-format dump, which pg_dump writes itself): the whole
    /// SHA-256 on one core while the chunks are hashed on the others.
    /// </summary>
    public static async Task<BackupDigest> ComputeAsync(string path, CancellationToken cancellation, int chunkSize = ChunkSize)
    {
        var pieces = Pieces(path, chunkSize);
        var whole = Task.Run(() => WholeSha256Async(path, cancellation), cancellation);
        await Parallel.ForEachAsync(pieces, Options(cancellation, Math.Max(1, Environment.ProcessorCount - 1)),
            async (chunk, token) => chunk.SetDigest(ChunkAlgorithm, await HashChunkAsync(path, chunk, ChunkAlgorithm, token).ConfigureAwait(false))).ConfigureAwait(false);
        return new BackupDigest(await whole.ConfigureAwait(false), pieces);
    }

    /// <summary>
    /// Checks a backup against its manifest: by chunks, all cores at once, when the manifest has them;
    /// otherwise (a manifest from before chunks) by the whole SHA-256. Null Matches: nothing to check against.
    /// </summary>
    /// <param name="workers">Chunks hashed at once: every core when nothing else runs, fewer beside a restore.</param>
    public static async Task<ChecksumCheck> VerifyAsync(DatabaseBackup backup, CancellationToken cancellation, int? workers = null)
    {
        if (backup.Chunks is not { Count: > 0 } expected)
        {
            if (backup.Sha256 is null)
                return new ChecksumCheck(null, []);
            var actual = await WholeSha256Async(backup.Path, cancellation).ConfigureAwait(false);
            return string.Equals(actual, backup.Sha256, StringComparison.OrdinalIgnoreCase)
                ? new ChecksumCheck(true, [])
                : new ChecksumCheck(false, [$"The SHA-256 checksum {actual} does not match the manifest's {backup.Sha256}: the backup was changed or truncated after it was written."]);
        }

        // Sizes and file names first: a truncated or extended backup is reported as such, without hashing.
        var problems = new List<string>();
        var expectedSizes = expected.GroupBy(c => c.File).ToDictionary(g => g.Key, g => g.Sum(c => c.Length));
        var actualSizes = Files(backup.Path).ToDictionary(f => f.Name, f => new FileInfo(f.FullPath).Length);
        foreach (var (file, size) in expectedSizes)
        {
            if (!actualSizes.TryGetValue(file, out var actual))
                problems.Add($"The backup was changed after it was written: {Describe(file)} is missing.");
            else if (actual != size)
                problems.Add($"The backup was truncated or changed after it was written: {Describe(file)} is {actual:N0} bytes, the manifest says {size:N0}.");
        }
        foreach (var file in actualSizes.Keys.Where(f => !expectedSizes.ContainsKey(f)))
            problems.Add($"The backup was changed after it was written: {Describe(file)} is not in the manifest.");
        if (problems.Count > 0)
            return new ChecksumCheck(false, problems);

        var damaged = new System.Collections.Concurrent.ConcurrentBag<BackupChunk>();
        await Parallel.ForEachAsync(expected, Options(cancellation, workers ?? Environment.ProcessorCount), async (chunk, token) =>
        {
            if (!string.Equals(await HashChunkAsync(backup.Path, chunk, chunk.Algorithm, token).ConfigureAwait(false), chunk.Digest, StringComparison.OrdinalIgnoreCase))
                damaged.Add(chunk);
        }).ConfigureAwait(false);
        if (damaged.IsEmpty)
            return new ChecksumCheck(true, []);
        var ranges = damaged.OrderBy(c => c.File, StringComparer.Ordinal).ThenBy(c => c.Offset)
            .Select(c => $"{Describe(c.File)} bytes {c.Offset:N0}-{c.Offset + c.Length - 1:N0}");
        return new ChecksumCheck(false, [$"The backup was changed after it was written: the checksum of {string.Join(", ", ranges)} does not match the manifest."]);
    }

    /// <summary>
    /// The whole backup's SHA-256: of a custom-format file, or of a directory-format folder's files in
    /// ordinal name order, each as name, NUL, content.
    /// </summary>
    private static async Task<string> WholeSha256Async(string path, CancellationToken cancellation)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[BufferSize];
        foreach (var (name, fullPath) in Files(path))
        {
            if (name.Length > 0)
                hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            await using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellation).ConfigureAwait(false)) > 0)
                hash.AppendData(buffer, 0, read);
        }
        return Hex(hash.GetHashAndReset());
    }

    /// <summary>The digest of the bytes <paramref name="chunk"/> covers, as they are on disk now.</summary>
    private static async ValueTask<string> HashChunkAsync(string backupPath, BackupChunk chunk, HashAlgorithmName algorithm, CancellationToken cancellation)
    {
        using var hash = IncrementalHash.CreateHash(algorithm);
        using var handle = File.OpenHandle(FullPath(backupPath, chunk.File), FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.Asynchronous);
        var buffer = new byte[(int)Math.Min(BufferSize, Math.Max(1, chunk.Length))];
        for (long done = 0; done < chunk.Length;)
        {
            var read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(0, (int)Math.Min(buffer.Length, chunk.Length - done)), chunk.Offset + done, cancellation).ConfigureAwait(false);
            if (read == 0)
                break; // shorter than the manifest says: the hash will not match
            hash.AppendData(buffer, 0, read);
            done += read;
        }
        return Hex(hash.GetHashAndReset());
    }

    /// <summary>The chunks of every file of a backup on disk, not yet hashed; an empty file is one empty chunk.</summary>
    private static List<BackupChunk> Pieces(string path, int chunkSize)
    {
        var pieces = new List<BackupChunk>();
        foreach (var (file, fullPath) in Files(path))
        {
            var length = new FileInfo(fullPath).Length;
            long offset = 0;
            do
                pieces.Add(new BackupChunk { File = file, Offset = offset, Length = Math.Min(length - offset, chunkSize) });
            while ((offset += chunkSize) < length);
        }
        return pieces;
    }

    /// <summary>
    /// A directory-format backup's files in ordinal name order, or a custom-format backup's one file
    /// (named "" as in its chunks).
    /// </summary>
    private static IEnumerable<(string Name, string FullPath)> Files(string path) =>
        Directory.Exists(path)
            ? Directory.GetFiles(path).Select(f => (Path.GetFileName(f), f)).OrderBy(f => f.Item1, StringComparer.Ordinal)
            : [("", path)];

    private static string FullPath(string backupPath, string file) => file.Length == 0 ? backupPath : Path.Combine(backupPath, file);

    private static string Describe(string file) => file.Length == 0 ? "the backup file" : $"file {file}";

    /// <summary>A chunk of a custom-format file whose bytes <paramref name="hash"/> has taken in.</summary>
    private static BackupChunk Chunk(long offset, long length, IncrementalHash hash)
    {
        var chunk = new BackupChunk { Offset = offset, Length = length };
        chunk.SetDigest(hash.AlgorithmName, Hex(hash.GetHashAndReset()));
        return chunk;
    }

    private static ParallelOptions Options(CancellationToken cancellation, int workers) =>
        new() { CancellationToken = cancellation, MaxDegreeOfParallelism = workers };

    private static string Hex(byte[] hash) => Convert.ToHexString(hash).ToLowerInvariant();
}
