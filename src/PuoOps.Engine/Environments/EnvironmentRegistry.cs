namespace PuoOps.Engine.Environments;

/// <summary>
/// The environments connected in one PowerShell session (runspace), by name (case-insensitive), and which
/// one is the default. One per session, not per process: Azure Automation and ForEach-Object -Parallel run
/// several sessions in one process, and one job's Connect-PuoEnvironment must not swap or dispose another's.
/// The default never moves by itself: the first environment registered is the default, another becomes it
/// only when asked, and disconnecting it leaves none (so a cmdlet without -Environment fails instead of
/// reaching whichever remains, which may be production). When nothing was ever connected, the default is
/// the implicit one built from the process environment variables.
/// </summary>
public sealed class EnvironmentRegistry : IDisposable
{
    private readonly Dictionary<string, PuoEnvironment> _environments = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _gate = new();
    private string? _defaultName;
    private string? _disconnectedDefault;

    /// <summary>
    /// Adds or replaces an environment; the replaced one is disposed, and a replaced default stays the default.
    /// It becomes the default when <paramref name="makeDefault"/>, or when it is the only environment.
    /// </summary>
    public PuoEnvironment Register(PuoEnvironment environment, bool makeDefault)
    {
        lock (_gate)
        {
            if (_environments.TryGetValue(environment.Name, out var previous) && !ReferenceEquals(previous, environment))
                previous.Dispose();
            _environments[environment.Name] = environment;
            environment.Registry = this;
            if (makeDefault || _environments.Count == 1)
                _defaultName = environment.Name;
            return environment;
        }
    }

    /// <summary>The named environment, or the default one when <paramref name="name"/> is null or empty.</summary>
    public PuoEnvironment Resolve(string? name)
    {
        lock (_gate)
        {
            if (string.IsNullOrEmpty(name))
            {
                if (_defaultName is not null && _environments.TryGetValue(_defaultName, out var current))
                    return current;
                if (_environments.Count == 0 && _disconnectedDefault is null)
                    return Register(PuoEnvironment.CreateImplicit(), makeDefault: true);
                var connected = _environments.Count == 0 ? "none is connected" : "connected: " + string.Join(", ", _environments.Keys.Order(StringComparer.OrdinalIgnoreCase));
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Environment.NoDefault",
                    $"There is no default environment: '{_disconnectedDefault}' was the default and was disconnected, and PuoOps never picks another by itself ({connected}). " +
                    "Give -Environment <name>, or make one the default with Connect-PuoEnvironment -Name <name> ... -Default.");
            }
            if (_environments.TryGetValue(name, out var named))
                return named;
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Environment.NotFound",
                $"No environment named '{name}' is connected. Run Connect-PuoEnvironment -Name {name} first, or Get-PuoEnvironment to list them.", name);
        }
    }

    public IReadOnlyList<PuoEnvironment> List()
    {
        lock (_gate)
            return _environments.Values.OrderBy(e => e.Name, StringComparer.OrdinalIgnoreCase).ToList();
    }

    public bool IsDefault(PuoEnvironment environment)
    {
        lock (_gate)
            return string.Equals(_defaultName, environment.Name, StringComparison.OrdinalIgnoreCase)
                   && _environments.TryGetValue(environment.Name, out var e) && ReferenceEquals(e, environment);
    }

    /// <summary>Removes and disposes an environment; false when no such name is connected.</summary>
    public bool Remove(string name)
    {
        lock (_gate)
        {
            if (!_environments.Remove(name, out var removed))
                return false;
            if (string.Equals(_defaultName, name, StringComparison.OrdinalIgnoreCase))
            {
                _defaultName = null;
                _disconnectedDefault = removed.Name;
            }
            removed.Dispose();
            return true;
        }
    }

    /// <summary>Disposes every environment: the session ended.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var environment in _environments.Values)
                environment.Dispose();
            _environments.Clear();
            _defaultName = null;
        }
    }
}
