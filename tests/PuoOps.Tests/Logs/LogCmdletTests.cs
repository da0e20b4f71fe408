using System.Management.Automation;
using System.Text;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Logs;

/// <summary>Ctrl+C in the middle of a file, for both log cmdlets, in the built module.</summary>
public sealed class LogCmdletTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-logcmdlet-").FullName;
    private readonly ModuleHost _host = new(connectSandbox: false);

    public void Dispose()
    {
        _host.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>A log of about <paramref name="megabytes"/> MB, large enough that reading it takes a while.</summary>
    private string Log(string line, int megabytes)
    {
        var path = Path.Combine(_dir, "big.log");
        var block = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(line + "\n", (1 << 20) / (line.Length + 1))));
        using var file = File.Create(path);
        for (var i = 0; i < megabytes; i++)
            file.Write(block);
        return path;
    }

    [Theory]
    [InlineData("Search-PuoLog -Path $p -Pattern 'no such text'", "2026-11-29 10:00:00,000 INFO op=search duration=15ms status=ok")]
    [InlineData("Find-PuoAuthFailure -Path $p", "203.0.113.7 - - [29/Nov/2026:10:00:01 +0000] \"GET /api/memories HTTP/1.1\" 200 52 \"-\" \"curl/8.5.0\"")]
    public void Ctrl_C_stops_in_the_middle_of_a_file(string command, string line)
    {
        var path = Log(line, 256);
        _host.Invoke("$global:p = $path", new Dictionary<string, object?> { ["path"] = path }).ThrowIfFailed();
        var (shell, pending) = _host.Start(command);
        using (shell)
        {
            // The first progress record is written when the file is opened: from then on it is being read.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (shell.Streams.Progress.Count == 0 && !pending.IsCompleted && DateTime.UtcNow < deadline)
                Thread.Sleep(10);
            Assert.False(pending.IsCompleted, "the cmdlet finished before Ctrl+C; the file should take longer to read");
            var stop = shell.BeginStop(null, null);
            Assert.True(stop.AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(10)), "Ctrl+C did not stop the cmdlet");
            Assert.Throws<PipelineStoppedException>(() => shell.EndInvoke(pending));
            Assert.DoesNotContain(shell.Streams.Progress, p => p.PercentComplete == 100); // it never got to the end
        }
    }
}
