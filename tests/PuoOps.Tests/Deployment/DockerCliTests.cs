using PuoOps.Engine.Docker;
using PuoOps.Engine.Environments;
using PuoOps.Tests.Infrastructure;
using PuoOps.Tests.Security;

namespace PuoOps.Tests.Deployment;

/// <summary>
/// What the docker CLI (docker stack deploy, docker compose up from Publish-PuoDeployment -ComposeFile) is pointed at:
/// the environment's engine and, for a TLS endpoint, its certificates, read by a real child process. No TLS daemon is
/// needed: the child prints the variables it got instead of calling one.
/// </summary>
public sealed class DockerCliTests
{
    private static PuoEnvironment Create(string dockerHost, string? certPath = null) => PuoEnvironment.Create(new EnvironmentSettings
    {
        Name = "xunit-cli-" + Guid.NewGuid().ToString("N")[..6], DockerHost = dockerHost, DockerCertPath = certPath,
    });

    private static async Task<string> DockerVariablesSeenBy(PuoEnvironment environment) =>
        (await DockerCli.RunAsync(TestEnvironments.Context(environment), "sh", ["-c", "env | grep '^DOCKER_' | sort"])).StandardOutput.Trim();

    [Fact]
    public async Task A_TLS_environment_gives_the_CLI_its_host_DOCKER_TLS_VERIFY_and_its_certificate_folder()
    {
        using var certificates = new TestCertificates();
        using var tls = Create("tcp://127.0.0.1:2376", certificates.Folder);

        Assert.Equal(new Dictionary<string, string>
        {
            ["DOCKER_HOST"] = tls.DockerHost, ["DOCKER_TLS_VERIFY"] = "1", ["DOCKER_CERT_PATH"] = certificates.Folder,
        }, DockerCli.Variables(tls));
        Assert.Equal($"DOCKER_CERT_PATH={certificates.Folder}\nDOCKER_HOST={tls.DockerHost}\nDOCKER_TLS_VERIFY=1", await DockerVariablesSeenBy(tls));
        Assert.Contains("127.0.0.1:2376", tls.DockerHost);
    }

    [Fact]
    public async Task An_environment_without_TLS_gives_the_CLI_only_its_host()
    {
        using var plain = Create("unix:///run/puo-xunit-nonexistent.sock");

        Assert.Equal(["DOCKER_HOST"], DockerCli.Variables(plain).Keys);
        Assert.Equal($"DOCKER_HOST={plain.DockerHost}", await DockerVariablesSeenBy(plain));
    }
}
