using System.Management.Automation;

namespace PuoOps.Commands.Environment;

[Cmdlet(VerbsCommunications.Disconnect, "PuoEnvironment", SupportsShouldProcess = true)]
public sealed class DisconnectPuoEnvironmentCommand : PuoCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(EnvironmentNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string[]? Name { get; set; }

    /// <summary>Disconnecting changes only this session, so a read-only environment can still be disconnected.</summary>
    protected override bool ChangesOnlyTheSession => true;

    protected override void Process()
    {
        var names = Name ?? [CurrentEnvironment.Name];
        foreach (var name in names)
        {
            if (!SessionEnvironments.Current.List().Any(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                WriteItemError(new PuoException(ErrorKind.NotFound, "PuoOps.Environment.NotFound",
                    $"No environment named '{name}' is connected; Get-PuoEnvironment lists them.", name));
                continue;
            }
            if (ShouldProcess(name, "Disconnect the environment and close its pooled connections"))
                SessionEnvironments.Current.Remove(name);
        }
    }
}
