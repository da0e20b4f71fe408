using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace PuoOps.Engine;

/// <summary>
/// Replaces files that running services or people read (nginx includes, .env files, client configs, block and
/// traffic lists) so that a reader, or a crash at any moment, sees either the complete old file or the complete
/// new one: the new content goes to a temp file in the same directory, created exclusively (never through a
/// symlink), fsynced, given the old file's mode and owner, and renamed over the old one; then the directory is
/// fsynced. Also creates owner-only files exclusively, for dumps, manifests, evidence and backups.
/// </summary>
public static class AtomicFile
{
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const string TempMarker = ".puo-tmp-";

    /// <summary>Replaces (or creates, with <paramref name="newFileMode"/>) <paramref name="path"/> with <paramref name="content"/>.</summary>
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode newFileMode = OwnerOnly)
    {
        var full = Path.GetFullPath(path);
        var existing = Inspect(full);
        RemoveStaleTemps(full);
        var temp = TempPath(full);
        try
        {
            using (var stream = CreateExclusive(temp, existing?.Mode ?? newFileMode))
            {
                stream.Write(content);
                if (existing is { } old)
                    KeepOwner(stream.SafeFileHandle, old, full);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        SyncDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// Copies <paramref name="path"/> to <c>&lt;path&gt;.bak-&lt;UTC time&gt;</c> beside it, owner-only, and returns the
    /// copy's path; null when there is no file to keep. The copy is written to a temp file first and then linked under
    /// its name (never replacing anything there), so a writer killed mid-copy leaves no partial backup, only a temp
    /// file that the next <see cref="Write"/> of the same file removes.
    /// </summary>
    public static string? Backup(string path, DateTimeOffset at)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            return null;
        var stamp = at.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        var backup = $"{full}.bak-{stamp}";
        var temp = TempPath(full);
        try
        {
            using (var source = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            using (var copy = CreateExclusive(temp, OwnerOnly))
            {
                source.CopyTo(copy);
                copy.Flush(flushToDisk: true);
            }
            File.Move(temp, backup, overwrite: false);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
        SyncDirectory(Path.GetDirectoryName(full)!);
        return backup;
    }

    /// <summary>
    /// A new file opened for writing, created with <paramref name="mode"/> from the start (no moment with wider
    /// permissions) and only if nothing, not even a dangling symlink, has that name (O_CREAT | O_EXCL).
    /// </summary>
    public static FileStream CreateExclusive(string path, UnixFileMode mode = OwnerOnly, int bufferSize = 4096)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = bufferSize };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = mode;
        return new FileStream(path, options);
    }

    /// <summary>
    /// A new directory with <paramref name="mode"/> from the start (owner-only by default), created only if nothing,
    /// not even a symlink, has that name (mkdir fails on any existing name); IOException otherwise.
    /// </summary>
    public static void CreateDirectoryExclusive(string path, UnixFileMode mode = OwnerOnly | UnixFileMode.UserExecute)
    {
        if (OperatingSystem.IsWindows())
        {
            if (Path.Exists(path))
                throw new IOException($"{path} already exists.");
            Directory.CreateDirectory(path);
            return;
        }
        if (mkdir(path, (uint)mode) == 0)
            return;
        var errno = Marshal.GetLastPInvokeError();
        if (errno == 13 /* EACCES */)
            throw new UnauthorizedAccessException($"Access to the path '{path}' is denied.");
        throw new IOException(errno == 17 /* EEXIST */ ? $"{path} already exists." : $"Cannot create the directory {path} (errno {errno}).", errno);
    }

    /// <summary>What to keep of the file being replaced; Owner is known on Linux only.</summary>
    private sealed record ExistingFile(UnixFileMode? Mode, (uint Uid, uint Gid)? Owner);

    /// <summary>The mode and owner to keep; null when there is no file yet. A symbolic link is refused.</summary>
    private static ExistingFile? Inspect(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is not null)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.File.SymbolicLink",
                $"{path} is a symbolic link to {info.LinkTarget}; PuoOps replaces only regular files. Give the real path.", path);
        if (!info.Exists)
            return null;
        if (OperatingSystem.IsWindows())
            return new ExistingFile(null, null);
        return new ExistingFile(info.UnixFileMode, OperatingSystem.IsLinux() ? Owner(path) : null);
    }

    private static void KeepOwner(SafeFileHandle handle, ExistingFile old, string path)
    {
        if (old.Owner is not { } owner || (owner.Uid == geteuid() && owner.Gid == getegid()))
            return;
        if (fchown((int)handle.DangerousGetHandle(), owner.Uid, owner.Gid) != 0)
            throw new PuoException(ErrorKind.PermissionDenied, "PuoOps.File.Owner",
                $"{path} belongs to uid {owner.Uid}:{owner.Gid}, and this user cannot give its replacement the same owner " +
                $"(errno {Marshal.GetLastPInvokeError()}). It was left unchanged; run as its owner or as root.", path);
    }

    private static string TempPath(string full) =>
        Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileName(full)}{TempMarker}{Environment.ProcessId}-{Guid.NewGuid():N}");

    /// <summary>Deletes temp files that a killed writer of this file left behind (their process is gone).</summary>
    private static void RemoveStaleTemps(string full)
    {
        var directory = Path.GetDirectoryName(full)!;
        var prefix = "." + Path.GetFileName(full) + TempMarker;
        if (!Directory.Exists(directory))
            return;
        foreach (var temp in Directory.EnumerateFiles(directory, prefix + "*"))
        {
            var rest = Path.GetFileName(temp)[prefix.Length..];
            var dash = rest.IndexOf('-');
            if (dash > 0 && int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !IsAlive(pid))
                File.Delete(temp);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Makes the rename itself durable: a crash right after it must not bring back the old name.</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
            return;
        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
            return; // best effort: the data itself was already fsynced
        fsync(fd);
        close(fd);
    }

    /// <summary>The effective user id of this process (Linux and other Unix).</summary>
    internal static uint CurrentUserId => geteuid();

    /// <summary>The owner of <paramref name="path"/> itself (a symbolic link is not followed); Linux only.</summary>
    internal static (uint Uid, uint Gid) Owner(string path)
    {
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxUid = 0x8, StatxGid = 0x10;
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxUid | StatxGid, out var stat) != 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.File.Stat",
                $"Cannot read the owner of {path} (errno {Marshal.GetLastPInvokeError()}).", path);
        return (stat.Uid, stat.Gid);
    }

    /// <summary>The head of struct statx (its layout is the same on every Linux architecture); 256 bytes in all.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 256)]
    private struct StatxBuffer
    {
        public uint Mask;
        public uint BlockSize;
        public ulong Attributes;
        public uint LinkCount;
        public uint Uid;
        public uint Gid;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);

    [DllImport("libc", SetLastError = true)]
    private static extern int fchown(int fd, uint owner, uint group);

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc")]
    private static extern uint getegid();

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc")]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    private static extern int mkdir([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    [DllImport("libc")]
    private static extern int close(int fd);
}
