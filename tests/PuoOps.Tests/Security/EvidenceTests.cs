using PuoOps.Engine;
using PuoOps.Engine.Security;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Security;

/// <summary>
/// Save-PuoIncidentEvidence's engine against the sandbox database and real files, checked with the tools an
/// investigator would use: tar to extract, sha256sum -c to verify, pg_restore --list to read the dumps.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class EvidenceTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("puo-evidence-test-").FullName;
    private readonly PuoEnvironment _environment = TestEnvironments.Sandbox();

    public void Dispose()
    {
        Directory.Delete(_root, recursive: true);
        _environment.Dispose();
    }

    private string Logs => Path.Combine(_root, "logs");
    private string Destination => Path.Combine(_root, "evidence");

    [Fact]
    public async Task A_log_being_written_is_archived_up_to_its_size_when_opened_and_both_manifests_verify()
    {
        Directory.CreateDirectory(Path.Combine(Logs, "old"));
        // A large file first, so the growing one keeps growing while the archive is written.
        await File.WriteAllBytesAsync(Path.Combine(Logs, "a-big.log"), RandomText(40 << 20));
        await File.WriteAllTextAsync(Path.Combine(Logs, "old", "api.log.1"), "rotated\n");
        var growing = Path.Combine(Logs, "z-growing.log");
        await File.WriteAllTextAsync(growing, "first line\n");
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            await using var log = new FileStream(growing, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await log.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"request {i} 401 /auth\n"));
                await log.FlushAsync();
                await Task.Delay(1);
            }
        });

        EvidenceResult result;
        try
        {
            result = await EvidenceService.SaveAsync(TestEnvironments.Context(_environment, 120), new EvidenceOptions([Logs], ["memories"], Destination));
        }
        finally
        {
            await Task.Delay(50);
            stop.Cancel();
            await writer;
        }

        var evidence = result.Evidence;
        Assert.Empty(result.Errors);
        Assert.Equal(["logs/a-big.log", "logs/old/api.log.1", "logs/z-growing.log"], evidence.LogFiles.Select(f => f.Name));
        Assert.Equal(["audit_logs.dump", "memories.dump"], evidence.Dumps.Select(d => d.Name));
        Assert.Equal((0, "incident_20261129_100000Z.tar.gz: OK\naudit_logs.dump: OK\nmemories.dump: OK\n".Replace("incident_20261129_100000Z", Path.GetFileName(evidence.Path))),
            Tool(evidence.Path, "sha256sum", "-c", "SHA256SUMS"));

        var extracted = Path.Combine(_root, "extracted");
        Directory.CreateDirectory(extracted);
        Assert.Equal(0, Tool(extracted, "tar", "-xzf", evidence.Archive).ExitCode);
        var check = Tool(extracted, "sha256sum", "-c", "SHA256SUMS");
        Assert.Equal(0, check.ExitCode);
        Assert.Equal(3, check.Output.Split('\n').Count(l => l.EndsWith(": OK", StringComparison.Ordinal)));

        // The archived copy of the growing log is a prefix of the file as it ended up, and the file grew past it.
        var archived = await File.ReadAllBytesAsync(Path.Combine(extracted, "logs", "z-growing.log"));
        var final = await File.ReadAllBytesAsync(growing);
        Assert.True(final.Length > archived.Length, $"the log grew to {final.Length} bytes, {archived.Length} were archived");
        Assert.Equal(final[..archived.Length], archived);
        Assert.Equal(evidence.LogFiles[2].SizeBytes, archived.Length);
    }

    [Fact]
    public async Task Evidence_is_owner_only_and_read_only_and_the_dumps_are_pg_dump_archives_of_their_tables()
    {
        Directory.CreateDirectory(Logs);
        await File.WriteAllTextAsync(Path.Combine(Logs, "access.log"), "GET / 401\n");

        var evidence = (await EvidenceService.SaveAsync(TestEnvironments.Context(_environment, 60), new EvidenceOptions([Logs], [], Destination))).Evidence;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(evidence.Path));
        Assert.All(Directory.GetFiles(evidence.Path), f => Assert.Equal(UnixFileMode.UserRead, File.GetUnixFileMode(f)));
        Assert.Equal(["SHA256SUMS", "audit_logs.dump", Path.GetFileName(evidence.Archive)], Directory.GetFiles(evidence.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var list = Tool(evidence.Path, "pg_restore", "--list", "audit_logs.dump");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("TABLE DATA public audit_logs", list.Output);
        Assert.NotNull(evidence.From);
        Assert.True(evidence.From < evidence.Until);
    }

    [Fact]
    public async Task Without_a_database_the_logs_are_still_saved_and_the_dump_is_reported()
    {
        Directory.CreateDirectory(Logs);
        await File.WriteAllTextAsync(Path.Combine(Logs, "access.log"), "GET / 401\n");
        using var nowhere = TestEnvironments.WithPostgresUrl($"postgres://puo:x@127.0.0.1:{TestEnvironments.ClosedPort()}/puo_memo");

        var result = await EvidenceService.SaveAsync(TestEnvironments.Context(nowhere, 5), new EvidenceOptions([Logs], [], Destination));

        Assert.Single(result.Errors);
        Assert.Contains("The logs were saved", result.Errors[0].Message);
        Assert.Empty(result.Evidence.Dumps);
        Assert.Equal(0, Tool(result.Evidence.Path, "sha256sum", "-c", "SHA256SUMS").ExitCode);
    }

    [Fact]
    public async Task A_table_that_does_not_exist_is_an_error_of_its_own()
    {
        Directory.CreateDirectory(Logs);
        var result = await EvidenceService.SaveAsync(TestEnvironments.Context(_environment, 60), new EvidenceOptions([Logs], ["no_such_table", "nothing_*"], Destination));
        Assert.Equal(["PuoOps.Security.TableNotFound"], result.Errors.Select(e => e.ErrorId));
        Assert.Equal(["audit_logs.dump"], result.Evidence.Dumps.Select(d => d.Name));
    }

    [Fact]
    public async Task Ctrl_C_leaves_no_evidence_folder_behind()
    {
        Directory.CreateDirectory(Logs);
        await File.WriteAllTextAsync(Path.Combine(Logs, "access.log"), "GET / 401\n");
        using var stopped = new CancellationTokenSource();
        stopped.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            EvidenceService.SaveAsync(TestEnvironments.Context(_environment, 60, stopped.Token), new EvidenceOptions([Logs], [], Destination)));

        Assert.Empty(Directory.GetFileSystemEntries(Destination));
    }

    [Fact]
    public void A_missing_log_path_is_NotFound_before_anything_is_created()
    {
        var error = Assert.Throws<PuoException>(() => EvidenceService.FindLogFiles([Path.Combine(_root, "nope")]));
        Assert.Equal("PuoOps.Security.LogPathNotFound", error.ErrorId);
    }

    [Fact]
    public void Evidence_folders_are_created_exclusively()
    {
        var folder = Path.Combine(_root, "taken");
        AtomicFile.CreateDirectoryExclusive(folder);
        Assert.Throws<IOException>(() => AtomicFile.CreateDirectoryExclusive(folder));
        File.CreateSymbolicLink(Path.Combine(_root, "link"), "/tmp");
        Assert.Throws<IOException>(() => AtomicFile.CreateDirectoryExclusive(Path.Combine(_root, "link")));
    }

    private static byte[] RandomText(int size)
    {
        var bytes = new byte[size];
        Random.Shared.NextBytes(bytes);
        for (var i = 0; i < bytes.Length; i++)
            bytes[i] = (byte)(i % 80 == 79 ? '\n' : 'a' + bytes[i] % 26);
        return bytes;
    }

    private static (int ExitCode, string Output) Tool(string directory, string file, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output.Result + error);
    }
}
