using System.Diagnostics;
using System.Management.Automation;
using Npgsql;
using PuoOps.Tests.Backup;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Security;

/// <summary>
/// The sandbox server with TLS switched on for this test, under a certificate of a private CA: a URL with
/// sslmode=verify-full and sslrootcert reaches it (and so do pg_dump and pg_restore, which get the same settings);
/// one whose sslrootcert names another CA does not, and nothing is registered.
/// </summary>
public sealed class PostgresTlsTests
{
    [Fact]
    public async Task Verify_full_with_sslrootcert_reaches_a_self_signed_server_and_another_CA_is_refused()
    {
        using var certificates = new TestCertificates();
        using var other = new TestCertificates();
        await using var db = await ScratchDatabase.CreateAsync(200);
        await using var tls = await ServerTls.EnableAsync(certificates);
        using var host = new ModuleHost();
        var url = $"postgres://puo:{Uri.EscapeDataString(Sandbox.Current.PostgresPassword)}@127.0.0.1:{Sandbox.Current.PostgresPort}/{db.Name}?sslmode=verify-full&sslrootcert=";
        var vars = new Dictionary<string, object?>
        {
            ["good"] = url + Uri.EscapeDataString(certificates.Path("ca.pem")), ["bad"] = url + Uri.EscapeDataString(other.Path("ca.pem")), ["dir"] = db.Directory,
        };

        var connected = host.Invoke("""
            Connect-PuoEnvironment -Name tls -DatabaseUrl $good
            (Test-PuoPostgres -Environment tls).Status.ToString()
            (Backup-PuoDatabase -Path $dir -Environment tls | Test-PuoBackup -Environment tls -Restore).Status.ToString()
            """, vars).ThrowIfFailed();
        Assert.Equal(["OK", "OK"], connected.Output.Select(o => o.ToString()));
        Assert.Empty(connected.Warnings);

        var refused = host.Invoke("Connect-PuoEnvironment -Name wrongca -DatabaseUrl $bad", vars);
        Assert.Equal(ErrorCategory.ConnectionError, Assert.Single(refused.Errors).CategoryInfo.Category);
        Assert.Single(host.Invoke("Get-PuoEnvironment -Name wrongca").Errors);
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, refused.AllText + connected.AllText);
    }

    [Fact]
    public async Task An_encrypted_client_key_is_opened_with_sslpassword_and_the_passphrase_is_never_shown()
    {
        using var certificates = new TestCertificates();
        await using var db = await ScratchDatabase.CreateAsync(10);
        await using var tls = await ServerTls.EnableAsync(certificates);
        const string passphrase = "t20 key/pass&phrase=";
        var encryptedKey = certificates.Path("key-encrypted.pem");
        using (var key = System.Security.Cryptography.RSA.Create())
        {
            key.ImportFromPem(File.ReadAllText(certificates.Path("key.pem")));
            File.WriteAllText(encryptedKey, key.ExportEncryptedPkcs8PrivateKeyPem(passphrase,
                new System.Security.Cryptography.PbeParameters(System.Security.Cryptography.PbeEncryptionAlgorithm.Aes256Cbc, System.Security.Cryptography.HashAlgorithmName.SHA256, 10_000)));
        }
        var url = $"postgres://puo:{Uri.EscapeDataString(Sandbox.Current.PostgresPassword)}@127.0.0.1:{Sandbox.Current.PostgresPort}/{db.Name}?sslmode=verify-full" +
                  $"&sslrootcert={Uri.EscapeDataString(certificates.Path("ca.pem"))}&sslcert={Uri.EscapeDataString(certificates.Path("cert.pem"))}&sslkey={Uri.EscapeDataString(encryptedKey)}";
        using var host = new ModuleHost();
        var vars = new Dictionary<string, object?> { ["keyed"] = url + "&sslpassword=" + Uri.EscapeDataString(passphrase), ["nokey"] = url };

        var connected = host.Invoke("""
            Connect-PuoEnvironment -Name keyed -DatabaseUrl $keyed -PassThru -Verbose | Format-List * | Out-String
            (Test-PuoPostgres -Environment keyed -Verbose).Status.ToString()
            (Get-PuoEnvironment -Name keyed).ToString()
            """, vars).ThrowIfFailed();
        Assert.Equal("OK", connected.Output[1].ToString());
        // Without the passphrase the same key cannot be opened: it reached Npgsql, and it is what opened the key.
        var refused = host.Invoke("Connect-PuoEnvironment -Name nokey -DatabaseUrl $nokey -Verbose", vars);
        Assert.NotEmpty(refused.Errors);
        var shown = connected.AllText + refused.AllText + string.Join("\n", connected.Output.Concat(refused.Output).Select(o => o.ToString()));
        Assert.DoesNotContain(passphrase, shown);
        Assert.DoesNotContain(Uri.EscapeDataString(passphrase), shown);
    }

    /// <summary>Turns on TLS on the sandbox server (ALTER SYSTEM, reload) with the given server certificate; dispose turns it off.</summary>
    private sealed class ServerTls : IAsyncDisposable
    {
        private readonly string[] _files;

        private ServerTls(string[] files) => _files = files;

        public static async Task<ServerTls> EnableAsync(TestCertificates certificates)
        {
            var postgres = Sandbox.Current.State.GetProperty("Postgres");
            var dataDir = postgres.GetProperty("DataDir").GetString()!;
            var stem = Path.Combine(dataDir, "xunit-tls-" + Guid.NewGuid().ToString("N")[..8]);
            string[] files = [stem + ".crt", stem + ".key"];
            File.Copy(certificates.Path("server.pem"), files[0]);
            File.Copy(certificates.Path("server-key.pem"), files[1]);
            foreach (var file in files)
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                if (System.Environment.UserName == "root")
                    using (var chown = Process.Start("chown", [postgres.GetProperty("OsUser").GetString()!, file])!)
                        chown.WaitForExit();
            }
            var tls = new ServerTls(files);
            await AdminAsync($"ALTER SYSTEM SET ssl_cert_file = '{files[0]}'", $"ALTER SYSTEM SET ssl_key_file = '{files[1]}'", "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()");
            var require = new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { SslMode = SslMode.Require, Pooling = false }.ConnectionString;
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await using var probe = new NpgsqlConnection(require);
                    await probe.OpenAsync();
                    return tls;
                }
                catch (NpgsqlException) when (attempt < 100)
                {
                    await Task.Delay(100); // the reload is asynchronous
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await AdminAsync("ALTER SYSTEM RESET ssl", "ALTER SYSTEM RESET ssl_cert_file", "ALTER SYSTEM RESET ssl_key_file", "SELECT pg_reload_conf()");
            foreach (var file in _files)
                File.Delete(file);
        }

        private static async Task AdminAsync(params string[] statements)
        {
            await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(Sandbox.Current.PostgresConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            foreach (var sql in statements)
            {
                await using var command = new NpgsqlCommand(sql, connection);
                await command.ExecuteNonQueryAsync();
            }
        }
    }
}
