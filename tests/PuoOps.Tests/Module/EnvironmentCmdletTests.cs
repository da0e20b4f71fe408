using System.Management.Automation;
using PuoOps.Tests.Infrastructure;

namespace PuoOps.Tests.Module;

public sealed class EnvironmentCmdletTests : IDisposable
{
    private readonly ModuleHost _host = new();

    public void Dispose() => _host.Dispose();

    [Fact]
    public void Connect_get_and_disconnect_never_show_the_passwords()
    {
        var name = "env-" + Guid.NewGuid().ToString("N")[..6];
        var result = _host.Invoke("""
            $e = Connect-PuoEnvironment -Name $n -DatabaseUrl $url -RedisConnectionString $redis -NoDefault -PassThru -Verbose
            $e | Format-List * | Out-String
            Get-PuoEnvironment -Name $n | Format-Table | Out-String
            "$e"
            Get-PuoEnvironment -Name $n | Disconnect-PuoEnvironment -Confirm:$false
            Get-PuoEnvironment -Name $n
            """, new Dictionary<string, object?>
        {
            ["n"] = name, ["url"] = Sandbox.Current.PostgresUrl, ["redis"] = Sandbox.Current.RedisConnectionString,
        });
        Assert.DoesNotContain(result.Errors, e => !e.FullyQualifiedErrorId.StartsWith("PuoOps.Environment.NotFound"));
        Assert.Single(result.Errors); // the final Get after Disconnect
        Assert.Contains(name, result.AllText);
        Assert.DoesNotContain(Sandbox.Current.PostgresPassword, result.AllText);
        Assert.DoesNotContain(Sandbox.Current.RedisPassword, result.AllText);
    }

    [Fact]
    public void Connect_checks_each_service_and_names_the_one_that_failed()
    {
        var result = _host.Invoke("Connect-PuoEnvironment -Name badredis -DatabaseUrl $url -RedisConnectionString $redis -NoDefault",
            new Dictionary<string, object?>
            {
                ["url"] = Sandbox.Current.PostgresUrl,
                ["redis"] = Sandbox.Current.RedisConnectionString.Split(',')[0] + ",password=WrongRedisPw1",
            });
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Redis.Authentication", error.FullyQualifiedErrorId);
        Assert.DoesNotContain("WrongRedisPw1", result.AllText);
        // Still registered: an operator can work with PostgreSQL while Redis is broken.
        Assert.Single(_host.Invoke("Get-PuoEnvironment -Name badredis").ThrowIfFailed().Output);
    }

    [Fact]
    public void A_malformed_url_is_an_invalid_argument()
    {
        var result = _host.Invoke("Connect-PuoEnvironment -Name bad -DatabaseUrl 'mysql://u:p@h/db'");
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(result.Errors).CategoryInfo.Category);
    }

    [Fact]
    public void An_unknown_environment_name_says_how_to_connect_it()
    {
        var result = _host.Invoke("Get-PuoSlowQuery -Environment no-such-env");
        Assert.Contains("Connect-PuoEnvironment", Assert.Single(result.Errors).ToString());
    }

    [Fact]
    public void Output_records_carry_their_environment_so_pipelines_stay_on_it()
    {
        var result = _host.Invoke("""
            Connect-PuoEnvironment -Name other -DatabaseUrl $url -NoDefault
            (Get-PuoConnectionStat -Environment other).Environment
            """, new Dictionary<string, object?> { ["url"] = Sandbox.Current.PostgresUrl }).ThrowIfFailed();
        Assert.Equal("other", result.Output.Last().ToString());
    }
}
