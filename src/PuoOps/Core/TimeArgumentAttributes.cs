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
            short or decimal => TimeInput.BackFrom(DateTimeOffset.Now, FromNumberLiteral(inputData)),
            string text => TimeInput.ParsePointInTime(text, DateTimeOffset.Now),
            var other => throw new ArgumentTransformationMetadataException(
                $"Give a point in time (a date, or a duration back from now such as 1h), not a {other.GetType().Name}."),
        });

    internal static object? Unwrap(object? input) => input is PSObject wrapped ? wrapped.BaseObject : input;

    /// <summary>
    /// PowerShell reads the unquoted arguments <c>90s</c> and <c>2d</c> as number literals with a type suffix (s: Int16,
    /// d: Decimal) before any transformation sees them; for a duration they can only mean seconds and days.
    /// </summary>
    internal static TimeSpan FromNumberLiteral(object? input) => Unwrap(input) switch
    {
        short seconds => TimeSpan.FromSeconds(seconds),
        decimal days => TimeSpan.FromDays((double)days),
        var other => throw new ArgumentTransformationMetadataException(
            $"{other} has no unit; write a duration such as 500ms, 90s, 30m, 1h30m or 2d."),
    };

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
/// </summary>
public sealed class DurationAttribute : ArgumentTransformationAttribute
{
    public override object? Transform(EngineIntrinsics engineIntrinsics, object? inputData) =>
        TimeWindowAttribute.Translate(() => TimeWindowAttribute.Unwrap(inputData) switch
        {
            string text => TimeInput.ParseDuration(text),
            // 1s and 2d arrive as numbers (see FromNumberLiteral); any other bare number has no unit.
            byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal => TimeWindowAttribute.FromNumberLiteral(inputData),
            var other => other,
        });
}
