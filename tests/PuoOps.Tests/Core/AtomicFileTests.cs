using System.Diagnostics;
using PuoOps.Engine;

namespace PuoOps.Tests.Core;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AtomicFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_new_file_gets_the_requested_mode_from_the_start()
    {
        var path = Path.Combine(_dir, "new.conf");
        AtomicFile.Write(path, "hello\n"u8);
        Assert.Equal("hello\n", File.ReadAllText(path));
        Assert.Equal(AtomicFile.OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void A_replaced_file_keeps_its_mode_and_leaves_no_temp_file()
    {
        var path = Path.Combine(_dir, "keep.conf");
        File.WriteAllText(path, "old");
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        File.SetUnixFileMode(path, mode);
        AtomicFile.Write(path, "new"u8, AtomicFile.OwnerOnly);
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(mode, File.GetUnixFileMode(path));
        Assert.Equal(["keep.conf"], Directory.GetFiles(_dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_replaced_file_keeps_its_owner()
    {
        Assert.True(Environment.UserName == "root", "This test gives the file to another user, which needs root (CI runs as root).");
        var path = Path.Combine(_dir, "owned.conf");
        File.WriteAllText(path, "old");
        Run("chown", "65534:65534", path);
        AtomicFile.Write(path, "new"u8);
        Assert.Equal("65534:65534", Run("stat", "-c", "%u:%g", path));
    }

    [Fact]
    public void A_symbolic_link_is_refused_and_its_target_left_alone()
    {
        var target = Path.Combine(_dir, "target");
        File.WriteAllText(target, "precious");
        var link = Path.Combine(_dir, "link");
        File.CreateSymbolicLink(link, target);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => AtomicFile.Write(link, "x"u8)).Kind);
        Assert.Equal("precious", File.ReadAllText(target));
    }

    [Fact]
    public void CreateExclusive_never_follows_or_replaces_what_is_there()
    {
        var target = Path.Combine(_dir, "victim");
        File.WriteAllText(target, "precious");
        var planted = Path.Combine(_dir, "planted");
        File.CreateSymbolicLink(planted, target);
        Assert.Throws<IOException>(() => AtomicFile.CreateExclusive(planted).Dispose());
        File.CreateSymbolicLink(Path.Combine(_dir, "dangling"), Path.Combine(_dir, "nowhere"));
        Assert.Throws<IOException>(() => AtomicFile.CreateExclusive(Path.Combine(_dir, "dangling")).Dispose());
        Assert.False(File.Exists(Path.Combine(_dir, "nowhere")));
        Assert.Equal("precious", File.ReadAllText(target));
    }

    [Fact]
    public void Backup_is_an_owner_only_copy_beside_the_file()
    {
        var path = Path.Combine(_dir, ".env");
        File.WriteAllText(path, "API_KEY=x\n");
        var backup = AtomicFile.Backup(path, new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero))!;
        Assert.Equal(Path.Combine(_dir, ".env.bak-20261129T100000000Z"), backup);
        Assert.Equal("API_KEY=x\n", File.ReadAllText(backup));
        Assert.Equal(AtomicFile.OwnerOnly, File.GetUnixFileMode(backup));
        Assert.Null(AtomicFile.Backup(Path.Combine(_dir, "absent"), DateTimeOffset.Now));
    }

    [Fact]
    public void Backup_never_replaces_a_file_of_its_name_and_leaves_no_temp_file()
    {
        var path = Path.Combine(_dir, ".env");
        File.WriteAllText(path, "API_KEY=new\n");
        var at = new DateTimeOffset(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);
        File.WriteAllText(path + ".bak-20261129T100000000Z", "API_KEY=kept\n");
        Assert.Throws<IOException>(() => AtomicFile.Backup(path, at));
        Assert.Equal("API_KEY=kept\n", File.ReadAllText(path + ".bak-20261129T100000000Z"));
        Assert.Equal([".env", ".env.bak-20261129T100000000Z"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_temp_file_left_by_a_killed_writer_is_removed_by_the_next_write()
    {
        var path = Path.Combine(_dir, "list.conf");
        using var gone = Process.Start("true")!;
        gone.WaitForExit();
        var stale = Path.Combine(_dir, $".list.conf.puo-tmp-{gone.Id}-0123");
        File.WriteAllText(stale, "half");
        AtomicFile.Write(path, "whole"u8);
        Assert.False(File.Exists(stale));
        Assert.Equal("whole", File.ReadAllText(path));
    }

    private static string Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
