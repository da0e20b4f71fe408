using System.Collections.Concurrent;

namespace PuoOps.Engine.Environments;

/// <summary>
/// The environments connected in this process, by name (case-insensitive), and which one is the default.
/// Process-wide on purpose: pooled connections outlive a single runspace, and Disconnect releases them.
/// When nothing was connected, the default is built from the process environment variables.
/// </summary>
public static class EnvironmentRegistry
{
    private static readonly ConcurrentDictionary<string, PuoEnvironment> Environments = new(StringComparer.OrdinalIgnoreCase);
    private static readonly object Gate = new();
    private static string? _defaultName;

    /// <summary>Adds or replaces an environment; the replaced one is disposed.</summary>
    public static PuoEnvironment Register(PuoEnvironment environment, bool makeDefault)
    {
        lock (Gate)
        {
            if (Environments.TryGetValue(environment.Name, out var previous) && !ReferenceEquals(previous, environment))
                previous.Dispose();
            Environments[environment.Name] = environment;
            if (makeDefault || _defaultName is null)
                _defaultName = environment.Name;
            return environment;
        }
    }

    /// <summary>The named environment, or the default one when <paramref name="name"/> is null or empty.</summary>
    public static PuoEnvironment Resolve(string? name)
    {
        lock (Gate)
        {
            if (string.IsNullOrEmpty(name))
            {
                if (_defaultName is not null && Environments.TryGetValue(_defaultName, out var current))
                    return current;
                return Register(PuoEnvironment.Create(new EnvironmentSettings()), makeDefault: true);
            }
            if (Environments.TryGetValue(name, out var named))
                return named;
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Environment.NotFound",
                $"No environment named '{name}' is connected. Run Connect-PuoEnvironment -Name {name} first, or Get-PuoEnvironment to list them.", name);
        }
    }

    public static IReadOnlyList<PuoEnvironment> List()
    {
        lock (Gate)
            return Environments.Values.OrderBy(e => e.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    public static bool IsDefault(PuoEnvironment environment)
    {
        lock (Gate)
            return string.Equals(_defaultName, environment.Name, StringComparison.OrdinalIgnoreCase)
                   && Environments.TryGetValue(environment.Name, out var e) && ReferenceEquals(e, environment);
    }

    /// <summary>Removes and disposes an environment; false when no such name is connected.</summary>
    public static bool Remove(string name)
    {
        lock (Gate)
        {
            if (!Environments.TryRemove(name, out var removed))
                return false;
            if (string.Equals(_defaultName, name, StringComparison.OrdinalIgnoreCase))
                _defaultName = Environments.Keys.OrderBy(k => k, StringComparer.OrdinalIgnoreCase).FirstOrDefault();
            removed.Dispose();
            return true;
        }
    }
}
