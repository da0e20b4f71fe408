using System.Management.Automation;

namespace PuoOps.Commands.Security;

/// <summary>
/// What the secrets cmdlets share: the stack's .env file, from -EnvFile (also bound by name from piped records), else
/// the environment's (Connect-PuoEnvironment -EnvFile), else .env in the current folder.
/// </summary>
public abstract class EnvFileCommandBase : PuoCmdlet
{
    /// <summary>The .env file; a relative path is taken from the current location.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string? EnvFile { get; set; }

    /// <summary>The file as a full path.</summary>
    protected string EnvFilePath =>
        SessionState.Path.GetUnresolvedProviderPathFromPSPath(string.IsNullOrEmpty(EnvFile) ? CurrentEnvironment.EnvFile ?? ".env" : EnvFile);

    /// <summary>True when the file was named (-EnvFile or the environment), so its absence is an error rather than "no file".</summary>
    protected bool EnvFileNamed => !string.IsNullOrEmpty(EnvFile) || CurrentEnvironment.EnvFile is not null;
}
