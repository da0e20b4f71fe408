using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace PuoOps.Commands;

/// <summary>
/// Loads PuoOps.Engine and its packages (Npgsql, StackExchange.Redis, Docker.DotNet and their own dependencies)
/// from deps/ into a private AssemblyLoadContext ("Resolving PowerShell module assembly dependency conflicts" in
/// PowerShell's docs). Every assembly deps/ holds is always loaded from there, whatever copy the session loaded
/// before or loads after, because another version is not a drop-in (a newer major changes behaviour, not just
/// adds API); only what deps/ does not hold, the framework and PowerShell, comes from the host. Only the name
/// PuoOps.Engine is answered from the default context, for the cmdlets.
/// </summary>
public sealed class ModuleInit : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static readonly string DependencyFolder =
        Path.Combine(Path.GetDirectoryName(typeof(ModuleInit).Assembly.Location)!, "deps");

    private static readonly EngineLoadContext Engine = new(DependencyFolder);

    public void OnImport() => AssemblyLoadContext.Default.Resolving += ResolveEngine;

    public void OnRemove(PSModuleInfo module) => AssemblyLoadContext.Default.Resolving -= ResolveEngine;

    private static Assembly? ResolveEngine(AssemblyLoadContext defaultContext, AssemblyName name) =>
        name.Name == "PuoOps.Engine" ? Engine.LoadFromAssemblyName(name) : null;

    private sealed class EngineLoadContext(string folder) : AssemblyLoadContext("PuoOps.Engine")
    {
        // null: not ours, so the default context answers (the framework, PowerShell).
        protected override Assembly? Load(AssemblyName name)
        {
            var path = Path.Combine(folder, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
