using System.Globalization;
using NodaTime;

namespace Ledger.Common;

/// <summary>
/// Billing periods are calendar months in the customer's billing time zone, named <c>yyyy-MM</c>.
/// </summary>
public static class BillingPeriods
{
    public static string Of(DateTimeOffset instant, string timeZone)
    {
        var local = Instant.FromDateTimeOffset(instant).InZone(Zone(timeZone)).Date;
        return Name(local.Year, local.Month);
    }

    public static string Name(int year, int month) =>
        year.ToString("D4", CultureInfo.InvariantCulture) + "-" + month.ToString("D2", CultureInfo.InvariantCulture);

    public static bool TryParse(string? period, out int year, out int month)
    {
        year = month = 0;
        return period is { Length: 7 } && period[4] == '-' &&
               int.TryParse(period.AsSpan(0, 4), NumberStyles.None, CultureInfo.InvariantCulture, out year) &&
               int.TryParse(period.AsSpan(5, 2), NumberStyles.None, CultureInfo.InvariantCulture, out month) &&
               year is >= 2000 and <= 9999 && month is >= 1 and <= 12;
    }

    /// <summary>The instants [start, end) of a period in a time zone.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Bounds(string period, string timeZone)
    {
        if (!TryParse(period, out var year, out var month)) throw new ArgumentException($"Not a period: {period}", nameof(period));
        var zone = Zone(timeZone);
        var start = zone.AtStartOfDay(new LocalDate(year, month, 1));
        var end = zone.AtStartOfDay(new LocalDate(year, month, 1).PlusMonths(1));
        return (start.ToDateTimeOffset(), end.ToDateTimeOffset());
    }

    public static string Next(string period)
    {
        if (!TryParse(period, out var year, out var month)) throw new ArgumentException($"Not a period: {period}", nameof(period));
        return month == 12 ? Name(year + 1, 1) : Name(year, month + 1);
    }

    private static DateTimeZone Zone(string timeZone) =>
        DateTimeZoneProviders.Tzdb.GetZoneOrNull(timeZone) ?? throw new ArgumentException($"Unknown time zone {timeZone}", nameof(timeZone));
}
