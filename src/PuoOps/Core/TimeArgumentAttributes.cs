using System.Management.Automation;
using PuoOps.Engine;

namespace PuoOps.Commands;

/// <summary>
/// For every -Since/-Until of the module (parameter type <see cref="DateTimeOffset"/>): a point in time
/// (DateTime, DateTimeOffset, a date string) or a duration counted back from now (<c>-Since 1h</c>,
/// <c>-Since (New-TimeSpan -Minutes 30)</c>). The spellings are <see cref="TimeInput"/>'s.
/// </summary>
public sealed class TimeWindowAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        Translate(() => Unwrap(inputData) switch
        {
            null => null,
            DateTimeOffset point => point,
            DateTime point => point.Kind == DateTimeKind.Unspecified ? new DateTimeOffset(DateTime.SpecifyKind(point, DateTimeKind.Local)) : new DateTimeOffset(point),
            TimeSpan back => TimeInput.BackFrom(DateTimeOffset.Now, back),
            string text => TimeInput.ParsePointInTime(text, DateTimeOffset.Now),
            decimal or double or float or long or int or short or byte or sbyte or ushort or uint or ulong => throw new ArgumentTransformationMetadataException(
                $"{inputData} is a number, not a point in time: write a duration back from now in quotes ('1h', '2d', '90s'), or a date. " +
                "PowerShell reads an unquoted 2d or 90s as the bare number."),
            var other => throw new ArgumentTransformationMetadataException(
                $"Give a point in time (a date, or a duration back from now such as 1h), not a {other.GetType().Name}."),
        });

    internal static object? Unwrap(object? input) => input is PSObject wrapped ? wrapped.BaseObject : input;

    internal static object? Translate(Func<object?> transform)
    {
        try
        {
            return transform();
        }
        catch (PuoException ex)
        {
            throw new ArgumentTransformationMetadataException(ex.Message, ex);
        }
    }
}

/// <summary>
/// For duration parameters (type <see cref="TimeSpan"/>): <c>500ms</c>, <c>90s</c>, <c>1h30m</c>, <c>00:05:00</c>
/// or a TimeSpan, with <see cref="TimeInput"/>'s spellings, so every duration of the module is written alike.
/// A bare number other than 0 is refused: PowerShell would make it ticks, and reads an unquoted 90s or 2d as the
/// numbers 90 and 2 (type suffixes), losing the unit.
/// </summary>
public sealed class DurationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        TimeWindowAttribute.Translate(() => TimeWindowAttribute.Unwrap(inputData) switch
        {
            string text => TimeInput.ParseDuration(text),
            0 => TimeSpan.Zero,
            decimal or double or float or long or int or short or byte or sbyte or ushort or uint or ulong => throw new ArgumentTransformationMetadataException(
                $"{inputData} is a number, not a duration: write it with its unit in quotes ('90s', '5m', '1h30m') or as 00:01:30. " +
                "PowerShell reads an unquoted 90s or 2d as the bare number."),
            var other => other,
        });
}
