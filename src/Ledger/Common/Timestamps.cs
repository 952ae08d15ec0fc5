using System.Globalization;

namespace Ledger.Common;

/// <summary>RFC 3339 timestamps with an explicit offset, as the API exchanges them.</summary>
public static class Timestamps
{
    public static bool TryParse(string? text, out DateTimeOffset value)
    {
        value = default;
        if (string.IsNullOrEmpty(text) || text.Length < 20 || text[10] is not ('T' or 't')) return false;

        var last = text[^1];
        var hasOffset = last is 'Z' or 'z' || (text.Length > 6 && text[^6] is '+' or '-' && text[^3] == ':');
        return hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
    }

    /// <summary>UTC, second precision unless there are fractions: <c>2026-11-25T10:00:00Z</c>.</summary>
    public static string Format(DateTimeOffset value) =>
        value.ToUniversalTime().ToString(value.Ticks % TimeSpan.TicksPerSecond == 0
            ? "yyyy-MM-dd'T'HH:mm:ss'Z'"
            : "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
