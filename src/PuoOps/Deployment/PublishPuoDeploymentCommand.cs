using System.Collections;
using System.Management.Automation;
using PuoOps.Engine.Deployment;

namespace PuoOps.Commands.Deployment;

/// <summary>
/// The runbook's "deploy to green": a new version on the idle colour, waited for until it converged and is healthy.
/// It never touches the active colour unless -Force.
/// </summary>
[Cmdlet(VerbsData.Publish, "PuoDeployment", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = "Image")]
[OutputType(typeof(DeploymentResult))]
public sealed class PublishPuoDeploymentCommand : PuoCmdlet
{
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ColorNameCompleter))]
    public string Color { get; set; } = "";

    [Parameter(Mandatory = true, ParameterSetName = "Image")]
    [ValidateNotNullOrEmpty]
    public string? Image { get; set; }

    [Parameter(Mandatory = true, ParameterSetName = "Compose")]
    [ValidateNotNullOrEmpty]
    public string? ComposeFile { get; set; }

    /// <summary>Variables to set in the colour's service: @{ FEATURE_X = 'on' }.</summary>
    [Parameter(ParameterSetName = "Image")]
    public Hashtable? EnvironmentVariable { get; set; }

    /// <summary>The port of a colour that has no service yet (created from the active colour's spec).</summary>
    [Parameter(ParameterSetName = "Image")]
    [ValidateRange(1, 65535)]
    public int? Port { get; set; }

    /// <summary>Seconds to wait for the service to converge and answer /health.</summary>
    [Parameter]
    [ValidateRange(1, 3600)]
    public int WaitSec { get; set; } = 120;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Process()
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in EnvironmentVariable ?? [])
            variables[LanguagePrimitives.ConvertTo<string>(entry.Key)] = LanguagePrimitives.ConvertTo<string>(entry.Value) ?? "";
        var options = new PublishOptions
        {
            Color = Color, Image = Image, Variables = variables, Port = Port, Wait = TimeSpan.FromSeconds(WaitSec), Force = Force,
            ComposeFile = ComposeFile is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(ComposeFile),
        };
        var what = ComposeFile is null ? $"Deploy {Image}" : $"Deploy {options.ComposeFile} (docker stack deploy on a Swarm manager, else docker compose up)";
        if (ShouldProcess($"{CurrentEnvironment.Name}: colour {Color}", what))
            WriteObject(Await(DeploymentService.PublishAsync(Context, options)));
    }
}
