using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace PuoOps.Commands;

/// <summary>Lets -Environment take a name ("prod") as well as an object from Get-PuoEnvironment.</summary>
public sealed class EnvironmentTransformationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        try
        {
            return value switch
            {
                null => null,
                PuoEnvironment environment => environment,
                string name => SessionEnvironments.Current.Resolve(name),
                _ => throw new ArgumentTransformationMetadataException(
                    $"-Environment takes an environment name or an object from Get-PuoEnvironment, not a {value.GetType().Name}."),
            };
        }
        catch (PuoException ex)
        {
            throw new ArgumentTransformationMetadataException(ex.Message, ex);
        }
    }
}

/// <summary>Tab completion of connected environment names.</summary>
public sealed class EnvironmentNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = Engine.NamePattern.Parse(Engine.NamePattern.Escape(wordToComplete.Trim('\'', '"')) + "*");
        return SessionEnvironments.Current.List()
            .Where(e => pattern.IsMatch(e.Name))
            .Select(e => new CompletionResult(e.Name, e.Name, CompletionResultType.ParameterValue, e.Postgres ?? e.Name));
    }
}
