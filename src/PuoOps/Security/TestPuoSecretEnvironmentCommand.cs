using System.Management.Automation;
using PuoOps.Engine;
using PuoOps.Engine.Secrets;

namespace PuoOps.Commands.Security;

[Cmdlet(VerbsDiagnostic.Test, "PuoSecretEnvironment")]
[OutputType(typeof(SecretCheck), typeof(bool))]
public sealed class TestPuoSecretEnvironmentCommand : EnvFileCommandBase
{
    /// <summary>The secrets to check; wildcards pick among the names in the .env file and the process environment.</summary>
    [Parameter(Position = 0)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = SecretEnvironmentService.DefaultNames;

    /// <summary>Return only $true when every secret is OK, else $false.</summary>
    [Parameter]
    public SwitchParameter Quiet { get; set; }

    protected override void Process()
    {
        var checks = SecretEnvironmentService.Check(CurrentEnvironment.Name, Name.Select(NamePattern.Parse).ToList(), EnvFilePath, EnvFileNamed,
            System.Environment.GetEnvironmentVariables(), WriteVerbose);
        if (Quiet)
        {
            WriteObject(checks.All(c => c.Status == Status.OK));
            return;
        }
        foreach (var check in checks)
            WriteObject(check);
    }
}
