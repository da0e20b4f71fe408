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
            short or decimal => TimeInput.BackFrom(DateTimeOffset.Now, FromSuffixedNumber(Unwrap(inputData))),
            string text => TimeInput.ParsePointInTime(text, DateTimeOffset.Now),
            var other => throw new ArgumentTransformationMetadataException(
                $"Give a point in time (a date, or a duration back from now such as 1h), not a {other.GetType().Name}."),
        });

    internal static object? Unwrap(object? input) => input is PSObject wrapped ? wrapped.BaseObject : input;

    /// <summary>
    /// PowerShell reads an unquoted <c>30s</c> as the Int16 30 and <c>2d</c> as the decimal 2 (its numeric type
    /// suffixes) before any attribute sees the text; s and d are also the duration units, so that is what they mean here.
    /// </summary>
    internal static TimeSpan FromSuffixedNumber(object? number) => number switch
    {
        short seconds => TimeSpan.FromSeconds(seconds),
        decimal days => TimeSpan.FromDays((double)days),
        _ => throw new ArgumentOutOfRangeException(nameof(number)),
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
            short or decimal => TimeWindowAttribute.FromSuffixedNumber(TimeWindowAttribute.Unwrap(inputData)),
            // A bare number would otherwise become that many 100 ns ticks.
            int or long or double => throw new ArgumentTransformationMetadataException(
                $"Give a duration with its unit, such as 500ms, 30s, 5m or 2d, not the bare number {inputData}."),
            var other => other,
        });
}
