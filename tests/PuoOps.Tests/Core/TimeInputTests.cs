using PuoOps.Engine;

namespace PuoOps.Tests.Core;

public sealed class TimeInputTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("90s", 90_000)]
    [InlineData("30m", 1_800_000)]
    [InlineData("5min", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1.5h", 5_400_000)]
    [InlineData("2d", 172_800_000)]
    [InlineData("1w", 604_800_000)]
    [InlineData("00:00:05", 5_000)]
    [InlineData("1.02:00:00", 93_600_000)]
    [InlineData(" 2H ", 7_200_000)]
    public void Durations_are_read_in_every_accepted_spelling(string text, long milliseconds)
    {
        Assert.True(TimeInput.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("soon")]
    [InlineData("5 parsecs")]
    [InlineData("h1")]
    public void Anything_else_is_not_a_duration(string text)
    {
        Assert.False(TimeInput.TryParseDuration(text, out _));
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => TimeInput.ParseDuration(text)).Kind);
    }

    [Fact]
    public void A_point_in_time_is_a_date_or_a_duration_back_from_now()
    {
        var now = new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(now.AddHours(-1), TimeInput.ParsePointInTime("1h", now));
        Assert.Equal(now.AddMinutes(-30), TimeInput.ParsePointInTime("00:30:00", now));
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 9, 30, 0, TimeSpan.Zero), TimeInput.ParsePointInTime("2026-11-28T09:30:00Z", now));
        Assert.Equal(new DateTimeOffset(2026, 11, 28, 9, 30, 0, TimeSpan.FromHours(2)), TimeInput.ParsePointInTime("2026-11-28T09:30:00+02:00", now));
    }

    [Theory]
    [InlineData("12")]
    [InlineData("yesterday-ish")]
    public void A_bare_number_or_nonsense_is_not_a_point_in_time(string text) =>
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<PuoException>(() => TimeInput.ParsePointInTime(text, DateTimeOffset.Now)).Kind);

    [Fact]
    public void A_window_that_ends_before_it_starts_is_refused()
    {
        var now = DateTimeOffset.Now;
        Assert.Throws<PuoException>(() => TimeInput.ValidateWindow(now, now.AddHours(-1)));
        TimeInput.ValidateWindow(now.AddHours(-1), now);
        TimeInput.ValidateWindow(null, now);
    }
}
