using System.Collections;
using System.Management.Automation;

namespace PuoOps.Commands;

/// <summary>
/// For string parameters that take pipeline input by value: binds text (and numbers), or from any other object
/// the value of the property this parameter binds by name (or an alias), never the object's ToString().
/// PowerShell tries input by value before by property name, so without this a record piped into the wrong
/// cmdlet would bind as its type name or its path, and the cmdlet would act on that.
/// </summary>
public sealed class TextOrPropertyAttribute(params string[] propertyNames) : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData)
    {
        // Properties of a PSCustomObject live on its PSObject wrapper, so the wrapper is what is looked at.
        var value = TimeWindowAttribute.Unwrap(inputData);
        return value is IList list and not Array { Rank: > 1 } ? list.Cast<object?>().Select(Text).ToArray() : Text(inputData);
    }

    private object? Text(object? input)
    {
        var value = TimeWindowAttribute.Unwrap(input);
        if (value is null or string or char or decimal || value.GetType().IsPrimitive)
            return value;
        var properties = PSObject.AsPSObject(input!).Properties;
        foreach (var name in propertyNames)
            if (properties[name] is { } property)
                return property.Value;
        throw new ArgumentTransformationMetadataException(
            $"A {value.GetType().Name} is not a name: pass the text, or pipe objects that carry a {string.Join(" or ", propertyNames)} property.");
    }
}
