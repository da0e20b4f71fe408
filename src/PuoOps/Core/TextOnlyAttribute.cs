using System.Collections;
using System.Management.Automation;

namespace PuoOps.Commands;

/// <summary>
/// For string parameters that take pipeline input by value: binds text (and numbers), never the ToString() of
/// another object. Without it, a record piped into the wrong cmdlet binds as its type name or its path, and
/// the cmdlet acts on that. A record that carries the parameter's property still binds by property name.
/// </summary>
public sealed class TextOnlyAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        var value = TimeWindowAttribute.Unwrap(inputData);
        if (value is IList list)
        {
            foreach (var item in list)
                Check(TimeWindowAttribute.Unwrap(item));
        }
        else
            Check(value);
        return inputData;
    }

    private static void Check(object? value)
    {
        if (value is null or string or char or decimal || value.GetType().IsPrimitive)
            return;
        throw new ArgumentTransformationMetadataException(
            $"A {value.GetType().Name} is not a name: pass the text, or pipe objects that carry the property this parameter binds.");
    }
}
