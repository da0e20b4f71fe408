using System.Management.Automation;
using System.Reflection;
using System.Runtime.Loader;

namespace PuoOps.Commands;

/// <summary>
/// Loads PuoOps.Engine and its packages (Npgsql, StackExchange.Redis, Docker.DotNet, ...) from deps/
/// into a private AssemblyLoadContext, so they never clash with another module's copies
/// ("Resolving PowerShell module assembly dependency conflicts" in PowerShell's docs). Only the name
/// PuoOps.Engine is answered from the default context; everything else is resolved inside ours.
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
        private readonly Lazy<Dictionary<string, string>> _hostAssemblies = new(ReadTrustedPlatformAssemblies);

        protected override Assembly? Load(AssemblyName name)
        {
            var path = Path.Combine(folder, name.Name + ".dll");
            if (!File.Exists(path))
                return null; // framework assembly: the default context has it
            // Let the host's copy win where it is at least as new (e.g. pwsh ships a newer Newtonsoft.Json),
            // so one assembly is loaded once; ours is used only where the host has none or an older one.
            var ours = AssemblyName.GetAssemblyName(path).Version;
            if (HostVersion(name.Name!) is { } host && host >= ours)
                return null;
            return LoadFromAssemblyPath(path);
        }

        private Version? HostVersion(string simpleName)
        {
            var loaded = Default.Assemblies.FirstOrDefault(a => a.GetName().Name == simpleName);
            if (loaded is not null)
                return loaded.GetName().Version;
            return _hostAssemblies.Value.TryGetValue(simpleName, out var hostPath) ? AssemblyName.GetAssemblyName(hostPath).Version : null;
        }

        private static Dictionary<string, string> ReadTrustedPlatformAssemblies()
        {
            var list = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "";
            var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var path in list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
                byName.TryAdd(Path.GetFileNameWithoutExtension(path), path);
            return byName;
        }
    }
}
