using System.Diagnostics;
using System.Text.RegularExpressions;
using Npgsql;
using PuoOps.Engine.Postgres;

namespace PuoOps.Engine.Backup;

/// <summary>
/// The runbook's migration procedure as one guarded run: back up and verify, run the migration
/// command, check that alembic_version moved to the revision the command reports (or the one expected),
/// and record every step with its timing. The caller runs the smoke test between the steps (a script
/// block must run on the pipeline thread), and on failure names the verified backup or restores it.
/// </summary>
public static partial class MigrationService
{
    public const string DefaultCommand = "alembic upgrade head";

    public static async Task<MigrationVersion> GetVersionAsync(OperationContext ctx)
    {
        var endpoint = PostgresConnections.Endpoint(ctx);
        var versions = await PostgresConnections.ReadAsync(ctx, connection => DatabaseAdmin.AlembicVersionsAsync(connection, ctx)).ConfigureAwait(false);
        return new MigrationVersion
        {
            Environment = ctx.Environment.Name, Database = endpoint.Database,
            Version = versions is null ? null : string.Join(",", versions), Versions = versions ?? [],
        };
    }

    public static MigrationResult Start(OperationContext ctx) =>
        new() { Environment = ctx.Environment.Name, Database = PostgresConnections.Endpoint(ctx).Database };

    /// <summary>Steps 1 and 2: Backup-PuoDatabase, then Test-PuoBackup's checksum and pg_restore --list.</summary>
    public static async Task BackupAsync(OperationContext ctx, MigrationResult run, string directory, string? pgBinPath)
    {
        var before = await GetVersionAsync(ctx).ConfigureAwait(false);
        run.VersionBefore = before.Version;
        var backup = await StepAsync(run, "Backup", async step =>
        {
            var made = await BackupService.BackupAsync(ctx, new BackupOptions { Directory = directory, PgBinPath = pgBinPath }).ConfigureAwait(false);
            // A failed migration restores this backup: refuse a folder it could not be restored from before migrating.
            BackupTrust.RequireOwnFolder(made, force: false);
            step.Message = $"{made.Path} ({Units.Bytes(made.SizeBytes)}, alembic {made.AlembicVersion ?? "none"})";
            return made;
        }).ConfigureAwait(false);
        await StepAsync(run, "VerifyBackup", async step =>
        {
            var test = await BackupVerifier.TestAsync(ctx, backup.Path, new BackupTestOptions { PgBinPath = pgBinPath }).ConfigureAwait(false);
            step.Message = test.Message;
            if (test.Status != Status.OK)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.MigrationFailed",
                    $"The backup taken before the migration did not verify, so the migration was not run: {test.Message}", backup.Path);
            run.BackupPath = backup.Path;
            return test;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Steps 3 and 4: the migration command, then the alembic_version check. The command is stopped (its whole
    /// process tree) when it runs longer than <paramref name="commandTimeout"/>: a wait of its own, not -TimeoutSec.
    /// </summary>
    /// <param name="passVariables">Names of variables of our own environment the command also gets (the application's settings), besides the allow-listed ones.</param>
    public static async Task MigrateAsync(OperationContext ctx, MigrationResult run, string command, string workingDirectory, string? expectedVersion,
        TimeSpan commandTimeout, IReadOnlyList<string>? passVariables = null)
    {
        var endpoint = PostgresConnections.Endpoint(ctx);
        string? reported = null;
        await StepAsync(run, "Migrate", async step =>
        {
            var builder = new NpgsqlConnectionStringBuilder(endpoint.ConnectionString);
            var password = builder.Password;
            var environment = new Dictionary<string, string?>();
            foreach (var name in passVariables ?? [])
                environment[name] = System.Environment.GetEnvironmentVariable(name);
            foreach (var (name, value) in PgTools.Environment(endpoint, ctx, "PuoOps migration"))
                environment[name] = value;
            environment["PGDATABASE"] = endpoint.Database;
            // The same server, database and TLS verification as ours: sslmode and the certificate files go along.
            var tls = string.Join("&", PgTools.LibpqSsl(builder).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value)}"));
            if (!string.IsNullOrEmpty(builder.SslPassword))
                tls += "&sslpassword=" + Uri.EscapeDataString(builder.SslPassword);
            environment["DATABASE_URL"] = $"postgresql://{Uri.EscapeDataString(endpoint.User)}:{Uri.EscapeDataString(password ?? "")}@{endpoint.Host}:{endpoint.Port}/{Uri.EscapeDataString(endpoint.Database)}?{tls}";
            var (shell, flag) = OperatingSystem.IsWindows() ? ("cmd.exe", "/c") : ("/bin/sh", "-c");
            ctx.Log($"Running '{command}' in {workingDirectory}, for at most {Units.Duration(commandTimeout)}.");
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(ctx.Cancellation);
            limit.CancelAfter(commandTimeout);
            ChildResult result;
            try
            {
                result = await PgTools.RunAsync(shell, [flag, command], environment, workingDirectory, (line, _) =>
                {
                    // The command sees the password (it must connect); its output never shows it.
                    var safe = Scrub(Scrub(line, password), builder.SslPassword);
                    ctx.Log(safe);
                    if (RunningUpgrade().Match(safe) is { Success: true } match)
                        reported = match.Groups[1].Value;
                }, limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!ctx.Cancellation.IsCancellationRequested)
            {
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Backup.MigrationTimeout",
                    $"'{command}' did not finish within -CommandTimeout {Units.Duration(commandTimeout)} and was stopped. Raise -CommandTimeout if the migration needs longer.",
                    command, ex);
            }
            if (result.ExitCode != 0)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.MigrationFailed",
                    $"'{command}' failed (exit {result.ExitCode}): {PgToolLog.LastLines(Scrub(Scrub(result.ErrorTail, password), builder.SslPassword))}", command);
            step.Message = reported is null ? "Finished; it reported no upgrade." : $"Finished; it reported an upgrade to {reported}.";
            return result;
        }).ConfigureAwait(false);
        run.ReportedVersion = reported;

        await StepAsync(run, "CheckVersion", async step =>
        {
            var after = await GetVersionAsync(ctx).ConfigureAwait(false);
            run.VersionAfter = after.Version;
            var expected = expectedVersion ?? reported;
            if (expected is not null && after.Version != expected)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.MigrationFailed",
                    $"alembic_version is '{after.Version ?? "(none)"}' after the migration, expected '{expected}'" +
                    (expectedVersion is null ? " (what the command reported)." : " (-ExpectedVersion)."), endpoint.Database);
            step.Message = after.Version == run.VersionBefore
                ? $"alembic_version is unchanged at '{after.Version}' (already at head)."
                : $"alembic_version moved from '{run.VersionBefore}' to '{after.Version}'.";
            return after;
        }).ConfigureAwait(false);
    }

    /// <summary>Restores the verified backup after a failed migration (the failed database is kept for inspection).</summary>
    public static Task RestoreAsync(OperationContext ctx, MigrationResult run, string? pgBinPath) =>
        StepAsync(run, "Restore", async step =>
        {
            var backup = BackupStore.Read(run.BackupPath!, ctx.Environment.Name);
            var restored = await RestoreService.RestoreAsync(ctx, backup, new RestoreOptions { Database = run.Database, PgBinPath = pgBinPath }).ConfigureAwait(false);
            run.Restored = true;
            step.Message = restored.Message;
            return restored;
        });

    /// <summary>Starts a step the caller runs itself (the smoke test); <see cref="EndStep"/> closes it.</summary>
    public static MigrationStep BeginStep(MigrationResult run, string name)
    {
        var step = new MigrationStep { Name = name, Started = DateTimeOffset.Now };
        run.Steps.Add(step);
        return step;
    }

    public static void EndStep(MigrationStep step, Status status, string message)
    {
        step.Duration = DateTimeOffset.Now - step.Started;
        step.Status = status;
        step.Message = message;
    }

    /// <summary>The error a failed run ends with: what failed, and the verified backup to restore from.</summary>
    public static PuoException Failed(MigrationResult run, Exception cause)
    {
        var reason = cause.Message;
        run.Message = run.BackupPath is null
            ? $"The migration of {run.Database} was not run: {reason}"
            : run.Restored
                ? $"The migration of {run.Database} failed and the verified backup {run.BackupPath} was restored (the failed database is kept as {run.Database}_before_restore_<timestamp>). Cause: {reason}"
                : $"The migration of {run.Database} failed: {reason} Restore the verified backup taken before it with: Restore-PuoBackup -Path '{run.BackupPath}'";
        return new PuoException(ErrorKind.InvalidOperation, "PuoOps.Backup.MigrationFailed", run.Message, run.BackupPath ?? run.Database, cause);
    }

    private static async Task<T> StepAsync<T>(MigrationResult run, string name, Func<MigrationStep, Task<T>> body)
    {
        var step = BeginStep(run, name);
        var watch = Stopwatch.StartNew();
        try
        {
            var result = await body(step).ConfigureAwait(false);
            step.Status = Status.OK;
            return result;
        }
        catch (Exception ex)
        {
            step.Status = Status.Critical;
            step.Message = ex.Message;
            throw;
        }
        finally
        {
            step.Duration = watch.Elapsed;
        }
    }

    /// <summary>Hides a secret (the password, the key's passphrase), as typed and as it appears inside DATABASE_URL.</summary>
    private static string Scrub(string text, string? secret) =>
        string.IsNullOrEmpty(secret)
            ? text
            : text.Replace(secret, "***", StringComparison.Ordinal).Replace(Uri.EscapeDataString(secret), "***", StringComparison.Ordinal);

    /// <summary>Alembic logs "Running upgrade a1b2 -> c3d4, message" for each revision it applies.</summary>
    [GeneratedRegex(@"Running upgrade \S* -> ([0-9A-Za-z_]+)")]
    private static partial Regex RunningUpgrade();
}
