using System.Globalization;

namespace Ledger.Common;

/// <summary>
/// An amount of one currency. The ledger keeps amounts exact to <see cref="LedgerScale"/> decimal
/// places (rated usage is priced to 6 places); money commands and invoice lines are in the
/// currency's minor unit. Rounding happens here and nowhere else: half away from zero.
/// </summary>
public readonly record struct Money(decimal Amount, string Currency) : IComparable<Money>
{
    /// <summary>Decimal places of every ledger amount (balances, rated usage).</summary>
    public const int LedgerScale = 6;

    public static Money Zero(string currency) => new(0m, currency);

    public bool IsNegative => Amount < 0m;

    public Money RoundToMinorUnit() => new(Round(Amount, Currencies.MinorUnits(Currency)), Currency);

    /// <summary>The one rounding rule of the ledger.</summary>
    public static decimal Round(decimal value, int decimals) =>
        Math.Round(value, decimals, MidpointRounding.AwayFromZero);

    /// <summary>Balances and rated amounts: always 6 decimal places, e.g. <c>473.885000</c>.</summary>
    public string ToLedgerString() => Format(Amount, LedgerScale);

    /// <summary>Amounts in the currency's minor unit, e.g. <c>12.50</c> for INR.</summary>
    public string ToMinorUnitString() => Format(Amount, Currencies.MinorUnits(Currency));

    public static string Format(decimal value, int decimals) =>
        Round(value, decimals).ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    public static Money operator +(Money a, Money b) => new(a.Amount + b.Amount, SameCurrency(a, b));

    public static Money operator -(Money a, Money b) => new(a.Amount - b.Amount, SameCurrency(a, b));

    public static Money operator -(Money a) => new(-a.Amount, a.Currency);

    public static bool operator <(Money a, Money b) => a.CompareTo(b) < 0;

    public static bool operator >(Money a, Money b) => a.CompareTo(b) > 0;

    public static bool operator <=(Money a, Money b) => a.CompareTo(b) <= 0;

    public static bool operator >=(Money a, Money b) => a.CompareTo(b) >= 0;

    public int CompareTo(Money other)
    {
        SameCurrency(this, other);
        return Amount.CompareTo(other.Amount);
    }

    public override string ToString() => $"{ToLedgerString()} {Currency}";

    private static string SameCurrency(Money a, Money b) =>
        string.Equals(a.Currency, b.Currency, StringComparison.Ordinal)
            ? a.Currency
            : throw new InvalidOperationException($"Cannot combine {a.Currency} with {b.Currency}.");
}

/// <summary>ISO 4217 minor units for the currencies that do not use two decimal places.</summary>
public static class Currencies
{
    private static readonly Dictionary<string, int> NonDefaultMinorUnits = new(StringComparer.Ordinal)
    {
        ["BIF"] = 0, ["CLP"] = 0, ["DJF"] = 0, ["GNF"] = 0, ["ISK"] = 0, ["JPY"] = 0, ["KMF"] = 0,
        ["KRW"] = 0, ["PYG"] = 0, ["RWF"] = 0, ["UGX"] = 0, ["VND"] = 0, ["VUV"] = 0, ["XAF"] = 0,
        ["XOF"] = 0, ["XPF"] = 0,
        ["BHD"] = 3, ["IQD"] = 3, ["JOD"] = 3, ["KWD"] = 3, ["LYD"] = 3, ["OMR"] = 3, ["TND"] = 3,
    };

    public static int MinorUnits(string currency) =>
        NonDefaultMinorUnits.TryGetValue(currency, out var units) ? units : 2;

    public static bool IsValidCode(string? code) =>
        code is { Length: 3 } && code.All(c => c is >= 'A' and <= 'Z');
}
