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
    public void Connect_checks_each_service_names_the_one_that_failed_and_registers_nothing_unless_SkipCheck()
    {
        var vars = new Dictionary<string, object?>
        {
            ["url"] = Sandbox.Current.PostgresUrl,
            ["redis"] = Sandbox.Current.RedisConnectionString.Split(',')[0] + ",password=WrongRedisPw1",
        };
        var result = _host.Invoke("Connect-PuoEnvironment -Name badredis -DatabaseUrl $url -RedisConnectionString $redis -Default", vars);
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Redis.Authentication", error.FullyQualifiedErrorId);
        Assert.Contains("was not registered", error.ToString());
        Assert.DoesNotContain("WrongRedisPw1", result.AllText);
        Assert.StartsWith("PuoOps.Environment.NotFound", Assert.Single(_host.Invoke("Get-PuoEnvironment -Name badredis").Errors).FullyQualifiedErrorId);
        Assert.Equal(_host.EnvironmentName, _host.Invoke("(Get-PuoEnvironment -Default).Name").ThrowIfFailed().Output.Single().ToString());

        // -SkipCheck registers it anyway: an operator can work with PostgreSQL while Redis is broken.
        _host.Invoke("Connect-PuoEnvironment -Name badredis -DatabaseUrl $url -RedisConnectionString $redis -SkipCheck", vars).ThrowIfFailed();
        Assert.Single(_host.Invoke("Get-PuoEnvironment -Name badredis").ThrowIfFailed().Output);
    }

    [Fact]
    public void A_wrong_postgres_password_registers_nothing_and_leaves_the_default_alone()
    {
        var wrong = Sandbox.Current.PostgresUrl.Replace(Uri.EscapeDataString(Sandbox.Current.PostgresPassword), "WrongPgPw1", StringComparison.Ordinal);
        var result = _host.Invoke("Connect-PuoEnvironment -Name badpg -DatabaseUrl $url -Default -PassThru", new Dictionary<string, object?> { ["url"] = wrong });
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.AuthenticationError, error.CategoryInfo.Category);
        Assert.DoesNotContain("WrongPgPw1", result.AllText);
        var after = _host.Invoke("Get-PuoEnvironment | ForEach-Object Name; (Get-PuoConnectionStat).Environment").ThrowIfFailed();
        Assert.DoesNotContain("badpg", after.Output.Select(o => o.ToString()));
        Assert.Equal(_host.EnvironmentName, after.Output.Last().ToString());
    }

    [Fact]
    public void Only_the_first_environment_becomes_the_default_and_another_only_with_Default()
    {
        var vars = new Dictionary<string, object?> { ["url"] = Sandbox.Current.PostgresUrl };
        var result = _host.Invoke("""
            Connect-PuoEnvironment -Name second -DatabaseUrl $url -SkipCheck
            (Get-PuoEnvironment -Default).Name
            Connect-PuoEnvironment -Name third -DatabaseUrl $url -SkipCheck -NoDefault
            (Get-PuoEnvironment -Default).Name
            Connect-PuoEnvironment -Name fourth -DatabaseUrl $url -SkipCheck -Default
            (Get-PuoEnvironment -Default).Name
            Connect-PuoEnvironment -Name fourth -DatabaseUrl $url -SkipCheck
            (Get-PuoEnvironment -Default).Name
            """, vars).ThrowIfFailed();
        Assert.Equal([_host.EnvironmentName, _host.EnvironmentName, "fourth", "fourth"], result.Output.Select(o => o.ToString()));
    }

    [Fact]
    public void Disconnecting_the_default_leaves_none_and_cmdlets_say_so_instead_of_using_another()
    {
        var vars = new Dictionary<string, object?> { ["url"] = Sandbox.Current.PostgresUrl };
        _host.Invoke("Connect-PuoEnvironment -Name aaa-prod -DatabaseUrl $url -SkipCheck", vars).ThrowIfFailed();
        _host.Invoke("Disconnect-PuoEnvironment -Confirm:$false").ThrowIfFailed();

        var result = _host.Invoke("Get-PuoConnectionStat");
        Assert.Empty(result.Output);
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.InvalidOperation, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Environment.NoDefault", error.FullyQualifiedErrorId);
        Assert.Contains(_host.EnvironmentName, error.ToString());
        Assert.Contains("aaa-prod", error.ToString());
        Assert.Equal(false, _host.Invoke("(Get-PuoEnvironment -Name aaa-prod).IsDefault").ThrowIfFailed().Output.Single().BaseObject);
        Assert.Equal("aaa-prod", _host.Invoke("(Get-PuoConnectionStat -Environment aaa-prod).Environment").ThrowIfFailed().Output.Single().ToString());
    }

    [Fact]
    public void A_malformed_url_is_an_invalid_argument()
    {
        var result = _host.Invoke("Connect-PuoEnvironment -Name bad -DatabaseUrl 'mysql://u:p@h/db'");
        Assert.Equal(ErrorCategory.InvalidArgument, Assert.Single(result.Errors).CategoryInfo.Category);
    }

    [Theory]
    [InlineData("-DockerHost ftp://x")]
    [InlineData("-DockerHost ssh://ops@docker.internal")]
    [InlineData("-DockerHost npipe:////./pipe/docker_engine")]
    [InlineData("-RedisConnectionString ftp://x")]
    [InlineData("-DatabaseUrl ftp://x")]
    [InlineData("-PostgresConnectionString ftp://x")]
    [InlineData("-ApiUrl ftp://x")]
    [InlineData("-McpUrl ftp://x")]
    public void An_endpoint_whose_scheme_the_client_cannot_speak_is_an_invalid_argument_and_registers_nothing(string endpoint)
    {
        var result = _host.Invoke($"Connect-PuoEnvironment -Name unspeakable {endpoint} -SkipCheck");
        var error = Assert.Single(result.Errors);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.StartsWith("PuoOps.Environment.NotFound", Assert.Single(_host.Invoke("Get-PuoEnvironment -Name unspeakable").Errors).FullyQualifiedErrorId);
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
