using Npgsql;
using PuoOps.Engine;
using PuoOps.Engine.Backup;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Backup;

/// <summary>The migration command is a child process: it gets an allow-listed environment and the environment's TLS settings.</summary>
public sealed class MigrationEnvironmentTests
{
    [Fact]
    public async Task The_migration_command_gets_only_allow_listed_variables_and_keeps_sslmode_in_its_DATABASE_URL()
    {
        await using var db = await ScratchDatabase.CreateAsync(100);
        var connection = new NpgsqlConnectionStringBuilder(db.ConnectionString) { SslMode = SslMode.Disable }.ConnectionString;
        using var env = PuoEnvironment.Create(new EnvironmentSettings { Name = "xunit-migenv-" + Guid.NewGuid().ToString("N")[..6], PostgresConnectionString = connection });
        var log = new List<string>();
        var ctx = new OperationContext(env, TimeSpan.FromSeconds(30), CancellationToken.None, verbose: line => { lock (log) log.Add(line); });
        var secret = "xunit-secret-" + Guid.NewGuid().ToString("N")[..8];
        System.Environment.SetEnvironmentVariable("PUO_XUNIT_OTHER_SECRET", secret);
        System.Environment.SetEnvironmentVariable("PUO_XUNIT_APP_SETTING", "passed");
        try
        {
            var run = MigrationService.Start(ctx);
            await MigrationService.BackupAsync(ctx, run, db.Directory, null);
            const string command = "echo \"other=${PUO_XUNIT_OTHER_SECRET:-none} app=${PUO_XUNIT_APP_SETTING:-none} path=${PATH:+set}\" && echo \"url=$DATABASE_URL\" && psql -X -q -t -c 'SELECT 1'";
            await MigrationService.MigrateAsync(ctx, run, command, db.Directory, null, TimeSpan.FromMinutes(5), ["PUO_XUNIT_APP_SETTING"]);
            Assert.Contains("other=none app=passed path=set", log);
            Assert.Contains(log, l => l.StartsWith("url=postgresql://", StringComparison.Ordinal) && l.EndsWith($"/{db.Name}?sslmode=disable", StringComparison.Ordinal));
            Assert.DoesNotContain(log, l => l.Contains(secret, StringComparison.Ordinal));
        }
        finally
        {
            System.Environment.SetEnvironmentVariable("PUO_XUNIT_OTHER_SECRET", null);
            System.Environment.SetEnvironmentVariable("PUO_XUNIT_APP_SETTING", null);
        }
    }
}
