using System.Net;
using System.Net.Sockets;
using PuoOps.Engine.Nginx;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Nginx;

/// <summary>
/// The include-file transaction every nginx change goes through (block lists now, traffic switching later), against
/// a real nginx of the test's own: atomic write, nginx -t, one graceful reload verified by new workers and a clean
/// error log, and the previous file back on any failure.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class NginxControlTests : IDisposable
{
    private readonly PrivateNginx _nginx = new();

    public void Dispose() => _nginx.Dispose();

    private async Task<NginxIncludeChange> Replace(string content, Func<NginxConfigDump, CancellationToken, Task>? afterReload = null,
        CancellationToken cancellation = default, string? path = null)
    {
        var ctx = TestEnvironments.Context(_nginx.Environment(), cancellation: cancellation);
        return await NginxControl.ReplaceIncludeAsync(ctx, await NginxInstance.ResolveAsync(ctx), path ?? _nginx.BlockList, _ => content, afterReload);
    }

    [Fact]
    public async Task A_new_file_is_validated_reloaded_once_and_served()
    {
        var before = (Reloads: _nginx.Reloads, Workers: _nginx.Workers());
        var previous = File.ReadAllText(_nginx.BlockList);

        var change = await Replace("deny 127.0.0.7;\n");

        Assert.True(change.Changed);
        Assert.True(change.Reloaded);
        Assert.Equal(before.Reloads + 1, _nginx.Reloads);
        Assert.Equal(before.Workers, change.PreviousWorkers);
        Assert.Empty(change.Workers.Intersect(before.Workers));
        Assert.Equal(change.Workers, _nginx.Workers());
        Assert.Equal(403, _nginx.StatusFrom("127.0.0.7"));
        Assert.Equal(200, _nginx.StatusFrom("127.0.0.8"));
        Assert.Equal(previous, File.ReadAllText(change.BackupPath!));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(change.BackupPath!));
        Assert.True(change.Configuration!.Includes(_nginx.BlockList));
    }

    [Fact]
    public async Task A_file_nginx_refuses_is_put_back_and_nginx_is_not_reloaded()
    {
        var previous = File.ReadAllBytes(_nginx.BlockList);
        var before = (Reloads: _nginx.Reloads, Workers: _nginx.Workers());

        var error = await Assert.ThrowsAsync<PuoException>(() => Replace("deny not-an-address;\n"));

        Assert.Equal("PuoOps.Nginx.ConfigInvalid", error.ErrorId);
        Assert.Contains("not-an-address", error.Message);
        Assert.Contains("put back; nginx was not reloaded", error.Message);
        Assert.Equal(previous, File.ReadAllBytes(_nginx.BlockList));
        Assert.Equal(before.Reloads, _nginx.Reloads);
        Assert.Equal(before.Workers, _nginx.Workers());
    }

    [Fact]
    public async Task A_reload_that_fails_after_a_passing_test_is_rolled_back_and_reloaded_again()
    {
        // nginx -t does not bind, so a listen on a busy port passes the test and fails only in the reload ([emerg] bind).
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var previous = File.ReadAllBytes(_nginx.BlockList);
        var reloads = _nginx.Reloads;

        var error = await Assert.ThrowsAsync<PuoException>(() => Replace($"listen 127.0.0.1:{((IPEndPoint)busy.LocalEndpoint).Port};\n"));

        Assert.True(error.ErrorId == "PuoOps.Nginx.ReloadFailed", error.Message);
        Assert.Contains("[emerg]", error.Message);
        Assert.True(error.Message.Contains("put back and nginx reloaded with it"), error.Message);
        Assert.Equal(previous, File.ReadAllBytes(_nginx.BlockList));
        Assert.Equal(reloads + 2, _nginx.Reloads);
        Assert.Equal(200, _nginx.StatusFrom("127.0.0.8"));
    }

    [Fact]
    public async Task A_file_nginx_does_not_include_is_refused_and_removed()
    {
        var stray = Path.Combine(_nginx.Directory, "not-included.conf");

        var error = await Assert.ThrowsAsync<PuoException>(() => Replace("deny 127.0.0.7;\n", path: stray));

        Assert.Equal("PuoOps.Nginx.NotIncluded", error.ErrorId);
        Assert.False(File.Exists(stray));
    }

    [Fact]
    public async Task A_failing_check_after_the_reload_rolls_the_change_back()
    {
        var previous = File.ReadAllBytes(_nginx.BlockList);
        var reloads = _nginx.Reloads;

        var error = await Assert.ThrowsAsync<PuoException>(() => Replace("deny 127.0.0.7;\n",
            (_, _) => throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Test.ProbeFailed", "The probe failed.")));

        Assert.Equal("PuoOps.Test.ProbeFailed", error.ErrorId);
        Assert.Equal(previous, File.ReadAllBytes(_nginx.BlockList));
        Assert.Equal(reloads + 2, _nginx.Reloads);
        Assert.Equal(200, _nginx.StatusFrom("127.0.0.7"));
    }

    [Fact]
    public async Task Ctrl_C_after_the_reload_still_puts_the_previous_file_back()
    {
        var previous = File.ReadAllBytes(_nginx.BlockList);
        using var stop = new CancellationTokenSource();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Replace("deny 127.0.0.7;\n", (_, token) =>
        {
            stop.Cancel();
            token.ThrowIfCancellationRequested();
            return Task.CompletedTask;
        }, stop.Token));

        Assert.Equal(previous, File.ReadAllBytes(_nginx.BlockList));
        Assert.Equal(200, _nginx.StatusFrom("127.0.0.7"));
    }

    [Fact]
    public async Task An_edit_that_changes_nothing_writes_and_reloads_nothing()
    {
        var reloads = _nginx.Reloads;
        var change = await Replace(File.ReadAllText(_nginx.BlockList));
        Assert.False(change.Changed);
        Assert.Equal(reloads, _nginx.Reloads);
        Assert.Empty(Directory.GetFiles(_nginx.Directory, "blocklist.conf.bak-*"));
    }

    [Fact]
    public async Task Two_reloads_are_at_least_the_minimum_interval_apart()
    {
        var first = StartSeconds((await Replace("deny 127.0.0.7;\n")).Workers[0]);
        var second = StartSeconds((await Replace("deny 127.0.0.9;\n")).Workers[0]);
        var gap = second - first;
        Assert.True(gap >= NginxControl.MinimumReloadInterval.TotalSeconds - 0.011, $"the workers started {gap:0.000} s apart");
    }

    [Fact]
    public async Task Concurrent_changes_wait_for_each_other_and_none_is_lost()
    {
        var ctx = TestEnvironments.Context(_nginx.Environment());
        var nginx = await NginxInstance.ResolveAsync(ctx);
        var changes = Enumerable.Range(1, 3).Select(i => Task.Run(() => NginxControl.ReplaceIncludeAsync(ctx, nginx, _nginx.BlockList,
            text => text + $"deny 127.0.1.{i};\n")));
        await Task.WhenAll(changes);
        var lines = File.ReadAllLines(_nginx.BlockList);
        Assert.All(Enumerable.Range(1, 3), i => Assert.Contains($"deny 127.0.1.{i};", lines));
        Assert.Equal(403, _nginx.StatusFrom("127.0.1.2"));
    }

    [Fact]
    public async Task Without_a_running_nginx_the_file_is_validated_and_written_but_nothing_reloads()
    {
        using var stopped = new PrivateNginx(start: false);
        var ctx = TestEnvironments.Context(stopped.Environment());
        var change = await NginxControl.ReplaceIncludeAsync(ctx, await NginxInstance.ResolveAsync(ctx), stopped.BlockList, _ => "deny 127.0.0.7;\n");
        Assert.True(change.Changed);
        Assert.False(change.Reloaded);
        Assert.Equal("deny 127.0.0.7;\n", File.ReadAllText(stopped.BlockList));
    }

    /// <summary>When a process started, in seconds since boot (its /proc start time, in USER_HZ ticks of 10 ms).</summary>
    private static double StartSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return long.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[19]) / 100.0;
    }
}
