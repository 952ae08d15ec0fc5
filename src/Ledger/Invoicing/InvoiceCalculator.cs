using System.Globalization;
using Ledger.Common;
using Ledger.Plans;

namespace Ledger.Invoicing;

/// <summary>
/// Units of one meter billed in a period, in the order the ledger recorded them, with the plan
/// (null: the invoice's plan) and version they were rated under.
/// </summary>
public sealed record BillableUsage(string Meter, decimal Quantity, int PlanVersion, bool Late, string? PlanId = null);

/// <summary>
/// One invoice line. <see cref="Amount"/> is rounded to the currency's minor unit;
/// <see cref="UnitPrice"/> is null for package pricing (the amount is per package, not per unit).
/// </summary>
public sealed record InvoiceLine(string Meter, string Description, decimal Quantity, decimal? UnitPrice, decimal Amount, bool Late);

/// <summary>The lines and totals of an invoice: <c>Total = Subtotal + Tax</c> exactly.</summary>
public sealed record InvoiceComputation(IReadOnlyList<InvoiceLine> Lines, decimal Subtotal, decimal TaxRate, decimal Tax, decimal Total);

/// <summary>
/// Prices a customer's billing period into invoice lines. Pure: the same usage, plan and period
/// end always give the same lines, in the same order.
/// </summary>
/// <remarks>
/// Per meter, units are priced by the plan version they were rated under. Graduated tiers count
/// the period's units of the meter in recorded order, across versions and late usage alike (as
/// real-time rating does); volume pricing picks the tier from the period's total of the meter
/// across versions and late usage, and the price of that tier from each line's own version.
/// Package pricing counts packages per line, so late usage and each plan version open their own
/// packages. Each line is rounded once; tax is computed on the rounded subtotal.
/// </remarks>
public static class InvoiceCalculator
{
    public const string LatePrefix = "Late usage — ";

    public static InvoiceComputation Compute(IEnumerable<BillableUsage> usage, Plan plan, string currency, DateTimeOffset periodEnd) =>
        Compute(usage, new Dictionary<string, Plan> { [plan.PlanId] = plan }, plan, currency, periodEnd);

    /// <summary>
    /// Prices usage rated under several plans (a customer moved to another plan mid-period):
    /// graduated tiers still count the period's units of a meter across all of them; the tax rate
    /// is that of <paramref name="taxPlan"/>, the plan the customer was on when the period ended.
    /// </summary>
    public static InvoiceComputation Compute(IEnumerable<BillableUsage> usage, IReadOnlyDictionary<string, Plan> plans, Plan taxPlan,
        string currency, DateTimeOffset periodEnd)
    {
        var minorUnits = Currencies.MinorUnits(currency);
        var lines = PriceLines(usage, plans, taxPlan.PlanId)
            .Select(l => new InvoiceLine(l.Meter, l.Description, l.Quantity, l.UnitPrice, Money.Round(l.ExactAmount, minorUnits), l.Late))
            .ToList();

        // The tax rate in force on the period's last instant.
        var taxRate = taxPlan.VersionAt(periodEnd.AddTicks(-1)).TaxRate;
        var subtotal = lines.Sum(l => l.Amount);
        var tax = Money.Round(subtotal * taxRate, minorUnits);
        return new InvoiceComputation(lines, subtotal, taxRate, tax, subtotal + tax);
    }

    /// <summary>The invoice lines before rounding, in invoice order.</summary>
    internal static IReadOnlyList<PricedLine> PriceLines(IEnumerable<BillableUsage> usage, Plan plan) =>
        PriceLines(usage, new Dictionary<string, Plan> { [plan.PlanId] = plan }, plan.PlanId);

    internal static IReadOnlyList<PricedLine> PriceLines(IEnumerable<BillableUsage> usage, IReadOnlyDictionary<string, Plan> plans, string defaultPlanId)
    {
        var lines = new List<PricedLine>();
        foreach (var meter in usage.GroupBy(u => u.Meter, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            lines.AddRange(PriceMeter(meter.Key, [.. meter], plans, defaultPlanId));
        }

        return lines;
    }

    /// <param name="usage">One meter's usage, in recorded order.</param>
    private static IEnumerable<PricedLine> PriceMeter(string meter, IReadOnlyList<BillableUsage> usage, IReadOnlyDictionary<string, Plan> plans,
        string defaultPlanId)
    {
        var periodTotal = usage.Sum(u => u.Quantity);
        var quantities = new SortedDictionary<LineKey, decimal>();
        var running = 0m;
        foreach (var u in usage)
        {
            var planId = u.PlanId ?? defaultPlanId;
            var price = PriceOf(plans, planId, u.PlanVersion, meter);
            switch (price.Model)
            {
                case PricingModel.Graduated:
                    foreach (var (tier, inTier, _) in Pricing.GraduatedTiers(price, running, u.Quantity))
                    {
                        Add(new LineKey(u.Late, planId, u.PlanVersion, tier), inTier);
                    }

                    break;
                case PricingModel.Volume:
                    Add(new LineKey(u.Late, planId, u.PlanVersion, VolumeTierIndex(price, periodTotal)), u.Quantity);
                    break;
                default:
                    Add(new LineKey(u.Late, planId, u.PlanVersion, 0), u.Quantity);
                    break;
            }

            running += u.Quantity;
        }

        var severalPlans = quantities.Keys.Select(k => k.PlanId).Distinct().Count() > 1;
        var severalVersions = quantities.Keys.Select(k => (k.PlanId, k.Version)).Distinct().Count() > 1;
        foreach (var (key, quantity) in quantities)
        {
            if (quantity == 0m) continue;
            var price = PriceOf(plans, key.PlanId, key.Version, meter);
            var note = severalPlans ? $"plan {key.PlanId} v{key.Version.ToString(CultureInfo.InvariantCulture)}"
                : severalVersions ? "plan v" + key.Version.ToString(CultureInfo.InvariantCulture)
                : null;
            yield return Line(meter, key, quantity, price, note);
        }

        void Add(LineKey key, decimal quantity) => quantities[key] = quantities.GetValueOrDefault(key) + quantity;
    }

    private static PricedLine Line(string meter, LineKey key, decimal quantity, MeterPrice price, string? planNote)
    {
        var notes = new List<string>();
        string label;
        decimal? unitPrice;
        decimal amount;
        switch (price.Model)
        {
            case PricingModel.Flat:
                label = meter;
                unitPrice = price.UnitPrice!.Value;
                amount = quantity * unitPrice.Value;
                break;
            case PricingModel.Graduated:
                label = meter + " " + TierRange(price.Tiers!, key.Tier);
                unitPrice = price.Tiers![key.Tier].UnitPrice;
                amount = quantity * unitPrice.Value;
                break;
            case PricingModel.Volume:
                label = meter;
                notes.Add("volume tier " + TierRange(price.Tiers!, key.Tier));
                unitPrice = price.Tiers![key.Tier].UnitPrice;
                amount = quantity * unitPrice.Value;
                break;
            case PricingModel.Package:
                var packages = Pricing.Packages(price, quantity);
                label = meter;
                notes.Add($"{Number(packages)} {(packages == 1m ? "package" : "packages")} of {Number(price.PackageSize!.Value)}");
                unitPrice = null;
                amount = packages * price.PackagePrice!.Value;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(price), price.Model, "Unknown pricing model.");
        }

        if (planNote is not null) notes.Add(planNote);
        var description = (key.Late ? LatePrefix : "") + label + (notes.Count > 0 ? " (" + string.Join("; ", notes) + ")" : "");
        return new PricedLine(meter, description, quantity, unitPrice, amount, key.Late);
    }

    private static MeterPrice PriceOf(IReadOnlyDictionary<string, Plan> plans, string planId, int version, string meter)
    {
        var plan = plans.TryGetValue(planId, out var found) ? found : throw new InvalidOperationException($"No plan {planId}.");
        var planVersion = plan.Versions.FirstOrDefault(v => v.Version == version)
                          ?? throw new InvalidOperationException($"Plan {plan.PlanId} has no version {version}.");
        return planVersion.Meters.TryGetValue(meter, out var price)
            ? price
            : throw new InvalidOperationException($"Plan {plan.PlanId} version {version} does not price meter {meter}.");
    }

    private static int VolumeTierIndex(MeterPrice price, decimal periodTotal)
    {
        var tier = Pricing.VolumeTier(price, periodTotal);
        var tiers = price.Tiers!;
        for (var i = 0; i < tiers.Count; i++)
        {
            if (ReferenceEquals(tiers[i], tier)) return i;
        }

        return tiers.Count - 1;
    }

    /// <summary>A tier's units as a reader counts them: <c>1–10,000</c>, <c>10,001+</c>.</summary>
    private static string TierRange(IReadOnlyList<PriceTier> tiers, int index)
    {
        var below = index == 0 ? 0m : tiers[index - 1].UpTo!.Value;
        var upTo = tiers[index].UpTo;
        // Whole-unit bounds read as the first unit of the tier; fractional ones as "over".
        var first = below == decimal.Truncate(below) && (upTo is null || upTo >= below + 1m) ? Number(below + 1m) : null;
        return (first, upTo) switch
        {
            (not null, null) => first + "+",
            (not null, { } to) => first + "–" + Number(to),
            (null, null) => "over " + Number(below),
            (null, { } to) => "over " + Number(below) + " to " + Number(to),
        };
    }

    private static string Number(decimal value) => value.ToString("#,0.######", CultureInfo.InvariantCulture);

    /// <summary>Lines in invoice order: on-time before late, then plan, plan version, tier.</summary>
    private readonly record struct LineKey(bool Late, string PlanId, int Version, int Tier) : IComparable<LineKey>
    {
        public int CompareTo(LineKey other)
        {
            var byLate = Late.CompareTo(other.Late);
            if (byLate != 0) return byLate;
            var byPlan = string.CompareOrdinal(PlanId, other.PlanId);
            if (byPlan != 0) return byPlan;
            var byVersion = Version.CompareTo(other.Version);
            return byVersion != 0 ? byVersion : Tier.CompareTo(other.Tier);
        }
    }
}

/// <summary>An invoice line with its exact, unrounded amount.</summary>
internal sealed record PricedLine(string Meter, string Description, decimal Quantity, decimal? UnitPrice, decimal ExactAmount, bool Late);
