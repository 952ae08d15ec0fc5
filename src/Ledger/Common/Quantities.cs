using System.Globalization;

namespace Ledger.Common;

/// <summary>Quantities are exact decimals with up to 6 places, written without trailing zeros.</summary>
public static class Quantities
{
    public const int Scale = 6;

    public static string Format(decimal quantity) =>
        (quantity / 1.000000000000000000000000000000000m).ToString(CultureInfo.InvariantCulture);
}
