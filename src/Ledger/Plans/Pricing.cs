using Ledger.Common;

namespace Ledger.Plans;

/// <summary>
/// The four pricing models as exact decimal arithmetic, without rounding. Tier bounds are
/// inclusive upper bounds; the last tier is open.
/// </summary>
public static class Pricing
{
    /// <summary>The price of a billing period's whole quantity of one meter.</summary>
    public static decimal PeriodPrice(MeterPrice price, decimal quantity) => price.Model switch
    {
        PricingModel.Flat => quantity * price.UnitPrice!.Value,
        PricingModel.Graduated => GraduatedTiers(price, 0m, quantity).Sum(t => t.Quantity * t.UnitPrice),
        PricingModel.Volume => quantity * VolumeTier(price, quantity).UnitPrice,
        PricingModel.Package => Packages(price, quantity) * price.PackagePrice!.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(price), price.Model, "Unknown pricing model."),
    };

    /// <summary>
    /// The real-time charge for <paramref name="quantity"/> units recorded after
    /// <paramref name="before"/> units of the same period: the change in the period's price,
    /// each side rounded to the ledger scale. Summed over a period in recorded order it equals
    /// the period price rounded to the ledger scale, for every model. For graduated and flat it
    /// is the price of the tiers the units fall in; for volume it can be negative when the total
    /// crosses into a cheaper tier; for package it charges a whole package when one is opened.
    /// </summary>
    public static decimal RealTimeCharge(MeterPrice price, decimal before, decimal quantity) =>
        Money.Round(PeriodPrice(price, before + quantity), Money.LedgerScale) - Money.Round(PeriodPrice(price, before), Money.LedgerScale);

    /// <summary>The tiers units <c>(from, from + quantity]</c> fall in, with the units in each.</summary>
    public static IEnumerable<(int Tier, decimal Quantity, decimal UnitPrice)> GraduatedTiers(MeterPrice price, decimal from, decimal quantity)
    {
        var tiers = price.Tiers!;
        var to = from + quantity;
        decimal lower = 0m;
        for (var i = 0; i < tiers.Count; i++)
        {
            var upper = tiers[i].UpTo ?? decimal.MaxValue;
            var inTier = Math.Min(to, upper) - Math.Max(from, lower);
            if (inTier > 0m) yield return (i, inTier, tiers[i].UnitPrice);
            if (upper >= to) yield break;
            lower = upper;
        }
    }

    /// <summary>The tier the period's total falls in.</summary>
    public static PriceTier VolumeTier(MeterPrice price, decimal total) =>
        price.Tiers!.FirstOrDefault(t => t.UpTo is null || total <= t.UpTo) ?? price.Tiers![^1];

    public static decimal Packages(MeterPrice price, decimal quantity) => Math.Ceiling(quantity / price.PackageSize!.Value);
}
