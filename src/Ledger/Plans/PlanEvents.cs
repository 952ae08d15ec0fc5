using System.Globalization;
using System.Text;

namespace Ledger.Plans;

public enum PricingModel
{
    Flat,
    Graduated,
    Volume,
    Package,
}

/// <summary>A tier of a graduated or volume price: an inclusive upper bound, or null for the last tier.</summary>
public sealed record PriceTier(decimal? UpTo, decimal UnitPrice);

/// <summary>How one meter is priced. Which members are set depends on <see cref="Model"/>.</summary>
public sealed record MeterPrice(
    PricingModel Model,
    decimal? UnitPrice = null,
    IReadOnlyList<PriceTier>? Tiers = null,
    decimal? PackageSize = null,
    decimal? PackagePrice = null);

/// <summary>
/// A new version of a price plan, in force for usage whose <c>occurredAt</c> is at or after
/// <see cref="EffectiveFrom"/>.
/// </summary>
public sealed record PlanVersionPublished(
    string PlanId,
    int Version,
    string Currency,
    decimal TaxRate,
    IReadOnlyDictionary<string, MeterPrice> Meters,
    DateTimeOffset EffectiveFrom,
    DateTimeOffset PublishedAt)
{
    /// <summary>
    /// The priced content of the version, with decimals normalized (<c>0.20</c> equals <c>0.2</c>),
    /// used to tell an unchanged PUT from a new version.
    /// </summary>
    public static string Fingerprint(string currency, decimal taxRate, IReadOnlyDictionary<string, MeterPrice> meters)
    {
        var text = new StringBuilder().Append(currency).Append('|').Append(Normalize(taxRate));
        foreach (var (meter, price) in meters.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            text.Append('|').Append(meter).Append(':').Append(price.Model)
                .Append(':').Append(Normalize(price.UnitPrice))
                .Append(':').Append(Normalize(price.PackageSize))
                .Append(':').Append(Normalize(price.PackagePrice));
            foreach (var tier in price.Tiers ?? [])
            {
                text.Append(':').Append(Normalize(tier.UpTo)).Append('@').Append(Normalize(tier.UnitPrice));
            }
        }

        return text.ToString();
    }

    private static string Normalize(decimal? value) =>
        value is { } v ? Common.DecimalText.Canonical(v) : "-";
}
