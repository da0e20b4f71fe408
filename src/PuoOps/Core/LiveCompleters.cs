using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using PuoOps.Engine;
using PuoOps.Engine.Backup;
using PuoOps.Engine.Deployment;
using PuoOps.Engine.Docker;
using PuoOps.Engine.Postgres;

namespace PuoOps.Commands;

/// <summary>
/// Tab completion from the live stack: the names the environment's servers have now (the one given with -Environment
/// on the command line, else the default). Completion must never get in the way of typing: a server that does not
/// answer within the budget, or any failure, completes nothing, and no error is ever shown.
/// </summary>
public abstract class LiveNameCompleter : IArgumentCompleter
{
    /// <summary>How long completion may wait for a server, in all.</summary>
    internal static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(900);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var word = wordToComplete.Trim('\'', '"');
        try
        {
            using var budget = new CancellationTokenSource(Budget);
            var context = new OperationContext(EnvironmentOf(fakeBoundParameters), Budget, budget.Token);
            var names = NamesAsync(context, word, fakeBoundParameters);
            // A server that did not answer in time is left behind with its cancelled token; observe its failure.
            _ = names.ContinueWith(t => t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            if (!names.Wait(Budget))
                return [];
            var pattern = WildcardPattern.Get(WildcardPattern.Escape(word) + "*", WildcardOptions.IgnoreCase);
            return names.Result.Where(pattern.IsMatch).Distinct(StringComparer.Ordinal)
                .Select(name => new CompletionResult(Quote(name), ListText(name), CompletionResultType.ParameterValue, name))
                .ToList();
        }
        catch (Exception)
        {
            // Anything at all (no environment, refused credentials, a malformed word): complete nothing, show nothing.
            return [];
        }
    }

    /// <summary>The names to offer for <paramref name="word"/>; they are filtered by prefix afterwards.</summary>
    protected abstract Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters);

    /// <summary>The text shown in the completion list (the name, unless a subclass shortens it).</summary>
    protected virtual string ListText(string name) => name;

    /// <summary>A value given on the command line so far, as a string (null when absent or not a plain value).</summary>
    protected static string? Bound(IDictionary boundParameters, string name) =>
        boundParameters[name] is { } value ? (value is PSObject wrapped ? wrapped.BaseObject : value) as string : null;

    /// <summary>The pattern the engine's name queries take for names that start with <paramref name="word"/>.</summary>
    protected static string StartsWith(string word) => NamePattern.Escape(word) + "*";

    private static PuoEnvironment EnvironmentOf(IDictionary boundParameters) =>
        (boundParameters["Environment"] is PSObject wrapped ? wrapped.BaseObject : boundParameters["Environment"]) switch
        {
            PuoEnvironment environment => environment,
            string name => SessionEnvironments.Current.Resolve(name),
            _ => SessionEnvironments.Current.Resolve(null),
        };

    private static string Quote(string name) =>
        name.All(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' or '/' or ':') ? name : "'" + name.Replace("'", "''") + "'";
}

/// <summary>Tables of the environment's database (of -Schema, when given).</summary>
public sealed class TableNameCompleter : LiveNameCompleter
{
    protected override async Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters) =>
        (await PostgresRelations.ResolveTablesAsync(context, RelationPattern.Parse(Bound(boundParameters, "Schema"), StartsWith(word))).ConfigureAwait(false))
        .Select(table => table.Name);
}

/// <summary>Indexes of the environment's database (of -Schema, when given).</summary>
public sealed class IndexNameCompleter : LiveNameCompleter
{
    protected override async Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters) =>
        (await PostgresRelations.ResolveIndexesAsync(context, RelationPattern.Parse(Bound(boundParameters, "Schema"), StartsWith(word))).ConfigureAwait(false))
        .Select(index => index.Name);
}

/// <summary>Compose services of -Project (else the environment's project; every project with -All) and Swarm services.</summary>
public sealed class ServiceNameCompleter : LiveNameCompleter
{
    protected override async Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters) =>
        await ContainerService.ServiceNamesAsync(context, Project(context, boundParameters)).ConfigureAwait(false);

    /// <summary>The compose project the command line names: -Project, none with -All, else the environment's.</summary>
    internal static string? Project(OperationContext context, IDictionary boundParameters) =>
        Bound(boundParameters, "Project") ?? (boundParameters.Contains("All") ? null : context.Environment.ComposeProject);
}

/// <summary>The environment's colours, for Switch-PuoTraffic -To and Publish-PuoDeployment -Color.</summary>
public sealed class ColorNameCompleter : LiveNameCompleter
{
    protected override async Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters) =>
        await TrafficService.ColorNamesAsync(context).ConfigureAwait(false);
}

/// <summary>Containers of -Project (else the environment's project; every container with -All).</summary>
public sealed class ContainerNameCompleter : LiveNameCompleter
{
    protected override async Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters) =>
        await ContainerService.NamesAsync(context, ServiceNameCompleter.Project(context, boundParameters)).ConfigureAwait(false);
}

/// <summary>
/// Backups (PuoOps.DatabaseBackup) in the folder being typed, newest first: "/backup/" offers every backup there. A
/// relative folder is taken from the process's current directory.
/// </summary>
public sealed class BackupPathCompleter : LiveNameCompleter
{
    protected override Task<IEnumerable<string>> NamesAsync(OperationContext context, string word, IDictionary boundParameters)
    {
        var directory = word.EndsWith('/') ? word : Path.GetDirectoryName(word);
        var folder = string.IsNullOrEmpty(directory) ? "." : directory;
        // The typed folder as typed, so the completion extends what is on the command line.
        var prefix = string.IsNullOrEmpty(directory) ? "" : directory.TrimEnd('/') + "/";
        return Task.FromResult(BackupStore.List(Path.GetFullPath(folder), skipped: null).Select(backup => prefix + Path.GetFileName(backup.Path)));
    }

    protected override string ListText(string name) => Path.GetFileName(name);
}
