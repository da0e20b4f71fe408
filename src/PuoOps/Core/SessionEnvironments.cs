using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using PuoOps.Engine.Environments;

namespace PuoOps.Commands;

/// <summary>
/// Each PowerShell session (runspace) gets its own environment registry, and its pooled connections are
/// released when the session closes. Cmdlets, argument transformation and completion run on the session's
/// pipeline thread, where <see cref="Runspace.DefaultRunspace"/> is that session.
/// </summary>
internal static class SessionEnvironments
{
    private static readonly ConditionalWeakTable<Runspace, EnvironmentRegistry> Registries = new();

    public static EnvironmentRegistry Current
    {
        get
        {
            var runspace = Runspace.DefaultRunspace
                ?? throw new InvalidOperationException("PuoOps cmdlets run on a PowerShell pipeline thread.");
            return Registries.GetValue(runspace, Create);
        }
    }

    private static EnvironmentRegistry Create(Runspace runspace)
    {
        var registry = new EnvironmentRegistry();
        runspace.StateChanged += (_, e) =>
        {
            if (e.RunspaceStateInfo.State is RunspaceState.Closed or RunspaceState.Broken)
                registry.Dispose();
        };
        return registry;
    }
}
