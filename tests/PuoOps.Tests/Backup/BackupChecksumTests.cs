using System.Security.Cryptography;
using System.Text;
using PuoOps.Engine.Backup;

namespace PuoOps.Tests.Backup;

/// <summary>The manifest's checksums on real files: chunk boundaries, directory backups, damage reports, old manifests.</summary>
public sealed class BackupChecksumTests : IDisposable
{
    // Not a multiple of the 1 MiB copy buffer, so chunks start and end inside buffers.
    private const int ChunkSize = 300_000;
    private readonly string _directory = Directory.CreateTempSubdirectory("puo-checksum-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    private static Task<ChecksumCheck> VerifyAsync(DatabaseBackup backup) => BackupChecksums.VerifyAsync(backup, CancellationToken.None);

    private static string Sha(ReadOnlySpan<byte> bytes) => Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();

    /// <summary>What a new chunk of these bytes must hold: the digest of the algorithm this CPU hashes chunks with.</summary>
    private static string ChunkDigest(ReadOnlySpan<byte> bytes) => Convert.ToHexString(
        BackupChecksums.ChunkAlgorithm == HashAlgorithmName.SHA512 ? SHA512.HashData(bytes) : SHA256.HashData(bytes)).ToLowerInvariant();

    [Fact]
    public void Chunks_are_hashed_with_the_faster_sha2_for_this_cpu_and_name_it_in_the_manifest()
    {
        var sha256Instructions = System.Runtime.Intrinsics.Arm.Sha256.IsSupported
                                 || File.ReadLines("/proc/cpuinfo").Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Split(' ').Contains("sha_ni"));
        Assert.Equal(sha256Instructions ? HashAlgorithmName.SHA256 : HashAlgorithmName.SHA512, BackupChecksums.ChunkAlgorithm);

        var path = Path.Combine(_directory, "db.dump");
        var chunk = Assert.Single(BackupChecksums.CopyAndHash(new MemoryStream(RandomBytes(1_000)), path, ChunkSize).Chunks);
        var json = System.Text.Json.JsonSerializer.Serialize(chunk);
        Assert.Contains(sha256Instructions ? "\"Sha256\":" : "\"Sha512\":", json);
        Assert.DoesNotContain(sha256Instructions ? "Sha512" : "Sha256", json);
    }

    [Fact]
    public async Task Copying_a_dump_hashes_the_whole_file_and_every_chunk_on_the_way()
    {
        var data = RandomBytes(2_500_123);
        var path = Path.Combine(_directory, "db.dump");
        var digest = BackupChecksums.CopyAndHash(new MemoryStream(data), path, ChunkSize);

        Assert.Equal(data, File.ReadAllBytes(path));
        Assert.Equal(Sha(data), digest.Sha256);
        Assert.Equal(9, digest.Chunks.Count);
        long expectedOffset = 0;
        foreach (var chunk in digest.Chunks)
        {
            Assert.Equal("", chunk.File);
            Assert.Equal(expectedOffset, chunk.Offset);
            Assert.Equal(ChunkDigest(data.AsSpan((int)chunk.Offset, (int)chunk.Length)), chunk.Digest);
            expectedOffset += chunk.Length;
        }
        Assert.Equal(data.Length, expectedOffset);

        // Hashing the file on disk afterwards gives the same digest.
        var computed = await BackupChecksums.ComputeAsync(path, CancellationToken.None, ChunkSize);
        Assert.Equal(digest.Sha256, computed.Sha256);
        Assert.Equal(digest.Chunks.Select(c => (c.Offset, c.Length, c.Sha256, c.Sha512)), computed.Chunks.Select(c => (c.Offset, c.Length, c.Sha256, c.Sha512)));
    }

    [Fact]
    public async Task A_directory_backup_is_hashed_file_by_file_with_its_empty_files()
    {
        var dir = Path.Combine(_directory, "db.dir");
        Directory.CreateDirectory(dir);
        var files = new Dictionary<string, byte[]> { ["toc.dat"] = RandomBytes(1_000), ["3001.dat.gz"] = RandomBytes(700_000), ["3002.dat.gz"] = [] };
        foreach (var (name, bytes) in files)
            await File.WriteAllBytesAsync(Path.Combine(dir, name), bytes);

        var digest = await BackupChecksums.ComputeAsync(dir, CancellationToken.None, ChunkSize);

        // The whole SHA-256 keeps its definition: the files in ordinal name order, each as name, NUL, content.
        var whole = new MemoryStream();
        foreach (var (name, bytes) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            whole.Write(Encoding.UTF8.GetBytes(name + "\0"));
            whole.Write(bytes);
        }
        Assert.Equal(Sha(whole.ToArray()), digest.Sha256);
        Assert.Equal(["3001.dat.gz", "3001.dat.gz", "3001.dat.gz", "3002.dat.gz", "toc.dat"], digest.Chunks.Select(c => c.File));
        Assert.Equal([0L, 300_000L, 600_000L, 0L, 0L], digest.Chunks.Select(c => c.Offset));
        Assert.Equal(0, digest.Chunks.Single(c => c.File == "3002.dat.gz").Length);
        foreach (var chunk in digest.Chunks)
            Assert.Equal(ChunkDigest(files[chunk.File].AsSpan((int)chunk.Offset, (int)chunk.Length)), chunk.Digest);

        var backup = new DatabaseBackup { Path = dir, Sha256 = digest.Sha256, Chunks = digest.Chunks };
        Assert.True((await VerifyAsync(backup)).Matches);

        // A file that was not there when the backup was written is damage too.
        await File.WriteAllTextAsync(Path.Combine(dir, "3003.dat.gz"), "x");
        var extra = await VerifyAsync(backup);
        Assert.False(extra.Matches);
        Assert.Contains("file 3003.dat.gz is not in the manifest", Assert.Single(extra.Problems));
        File.Delete(Path.Combine(dir, "3003.dat.gz"));
        File.Delete(Path.Combine(dir, "toc.dat"));
        Assert.Contains("file toc.dat is missing", Assert.Single((await VerifyAsync(backup)).Problems));
    }

    [Fact]
    public async Task Verification_names_the_damaged_chunk_and_a_changed_size()
    {
        var data = RandomBytes(1_000_000);
        var path = Path.Combine(_directory, "db.dump");
        var digest = BackupChecksums.CopyAndHash(new MemoryStream(data), path, ChunkSize);
        var backup = new DatabaseBackup { Path = path, Sha256 = digest.Sha256, Chunks = digest.Chunks };
        Assert.True((await VerifyAsync(backup)).Matches);

        data[650_000] ^= 0x01;
        await File.WriteAllBytesAsync(path, data);
        var flipped = await VerifyAsync(backup);
        Assert.False(flipped.Matches);
        Assert.Contains("the backup file bytes 600,000-899,999 does not match", Assert.Single(flipped.Problems));

        await File.WriteAllBytesAsync(path, data[..500_000]);
        var truncated = await VerifyAsync(backup);
        Assert.False(truncated.Matches);
        Assert.Contains("is 500,000 bytes, the manifest says 1,000,000", Assert.Single(truncated.Problems));
    }

    [Fact]
    public async Task A_version_2_manifest_with_sha256_chunks_is_still_verified_by_them()
    {
        var data = RandomBytes(700_000);
        var path = Path.Combine(_directory, "v2.dump");
        await File.WriteAllBytesAsync(path, data);
        List<BackupChunk> chunks =
        [
            new() { Offset = 0, Length = 400_000, Sha256 = Sha(data.AsSpan(0, 400_000)) },
            new() { Offset = 400_000, Length = 300_000, Sha256 = Sha(data.AsSpan(400_000)) },
        ];
        var backup = new DatabaseBackup { Path = path, Sha256 = Sha(data), Chunks = chunks };
        Assert.True((await VerifyAsync(backup)).Matches);

        data[500_000] ^= 0x01;
        await File.WriteAllBytesAsync(path, data);
        Assert.Contains("the backup file bytes 400,000-699,999 does not match", Assert.Single((await VerifyAsync(backup)).Problems));
    }

    [Fact]
    public async Task A_manifest_from_before_chunks_is_checked_by_its_whole_sha256()
    {
        var data = RandomBytes(400_000);
        var path = Path.Combine(_directory, "old.dump");
        await File.WriteAllBytesAsync(path, data);
        var backup = new DatabaseBackup { Path = path, Sha256 = Sha(data) };
        Assert.True((await VerifyAsync(backup)).Matches);

        data[0] ^= 0x01;
        await File.WriteAllBytesAsync(path, data);
        var changed = await VerifyAsync(backup);
        Assert.False(changed.Matches);
        Assert.Contains("does not match the manifest's", Assert.Single(changed.Problems));
        Assert.Null((await VerifyAsync(new DatabaseBackup { Path = path })).Matches);
    }
}
