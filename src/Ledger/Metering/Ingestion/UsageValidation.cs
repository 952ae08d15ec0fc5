using Ledger.Common;
using Ledger.Hosting;
using Ledger.Plans;

namespace Ledger.Metering.Ingestion;

/// <summary>A usage event that passed validation, with what rating it needs resolved.</summary>
public sealed record UsageToRecord(
    string CustomerId,
    string EventId,
    string Meter,
    decimal Quantity,
    DateTimeOffset OccurredAt,
    IReadOnlyDictionary<string, string> Dimensions,
    string Period,
    string PlanId,
    int PlanVersion,
    MeterPrice Price,
    string Currency,
    bool Late);

/// <summary>Whole-batch validation: any invalid event refuses the batch, with every error keyed <c>events[i].field</c>.</summary>
public static class UsageValidation
{
    public const int MaxEventsPerBatch = 5000;
    public const int MaxBodyBytes = 5 * 1024 * 1024;
    public const int QuantityScale = 6;
    public const int MaxDimensions = 10;
    public const int MaxDimensionValueLength = 128;
    public static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(5);
    public static readonly DateTimeOffset EarliestOccurredAt = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The structural checks that need no lookup.</summary>
    public static void CheckShape(IReadOnlyList<UsageEventInput?> events, DateTimeOffset now, FieldErrors errors)
    {
        for (var i = 0; i < events.Count; i++)
        {
            var path = $"events[{i}]";
            var e = events[i];
            if (e is null)
            {
                errors.Add(path, "Is required.");
                continue;
            }

            Check.ClientId(errors, $"{path}.id", e.Id);
            Check.ClientId(errors, $"{path}.customerId", e.CustomerId);
            Check.ClientId(errors, $"{path}.meter", e.Meter);
            Check.Decimal(errors, $"{path}.quantity", e.Quantity, QuantityScale, min: 0m);

            if (e.OccurredAt is null) errors.Add($"{path}.occurredAt", "Is required.");
            else if (!Timestamps.TryParse(e.OccurredAt, out var occurredAt)) errors.Add($"{path}.occurredAt", "Must be an RFC 3339 timestamp with offset.");
            else if (occurredAt > now + FutureTolerance) errors.Add($"{path}.occurredAt", "Must not be more than 5 minutes in the future.");
            else if (occurredAt < EarliestOccurredAt) errors.Add($"{path}.occurredAt", "Must be in 2000 or later (billing periods start in 2000-01).");

            if (e.Dimensions is { } dimensions)
            {
                if (dimensions.Count > MaxDimensions) errors.Add($"{path}.dimensions", $"At most {MaxDimensions} dimensions.");
                foreach (var (key, value) in dimensions)
                {
                    if (!ClientIds.IsValid(key)) errors.Add($"{path}.dimensions", "Dimension names: " + ClientIds.Rule);
                    else if (key == Rollups.UsageRollups.LateDimension) errors.Add($"{path}.dimensions.{key}", "'late' is reserved: the ledger marks late usage with it.");
                    else if (value is null) errors.Add($"{path}.dimensions.{key}", "Must be a string.");
                    else if (value.Length > MaxDimensionValueLength) errors.Add($"{path}.dimensions.{key}", $"Must be at most {MaxDimensionValueLength} characters.");
                    else if (ClientText.HasControlCharacter(value)) errors.Add($"{path}.dimensions.{key}", ClientText.ControlCharacterRule);
                }
            }
        }
    }

    /// <summary>Resolves customer, plan version and meter price; unknown ones are errors.</summary>
    public static List<UsageToRecord> Resolve(IReadOnlyList<UsageEventInput?> events, IReadOnlyDictionary<string, Accounts.Account> customers,
        IReadOnlyDictionary<string, Plan> plans, FieldErrors errors)
    {
        var resolved = new List<UsageToRecord>(events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i]!;
            var path = $"events[{i}]";
            if (!customers.TryGetValue(e.CustomerId!, out var customer))
            {
                errors.Add($"{path}.customerId", $"No customer '{e.CustomerId}'.");
                continue;
            }

            Timestamps.TryParse(e.OccurredAt, out var occurredAt);
            var plan = plans[customer.PlanId];
            var version = plan.VersionAt(occurredAt);
            if (!version.Meters.TryGetValue(e.Meter!, out var price))
            {
                errors.Add($"{path}.meter", $"Meter '{e.Meter}' is not priced by plan '{plan.PlanId}' (version {version.Version}).");
                continue;
            }

            DecimalText.TryParse(e.Quantity.Text, out var quantity, out _);
            if (!ChargeFits(price, quantity))
            {
                errors.Add($"{path}.quantity", "The charge for this quantity would exceed what the ledger can hold (1000000000000000).");
                continue;
            }

            var dimensions = e.Dimensions is null or { Count: 0 }
                ? Empty
                : e.Dimensions;
            var period = BillingPeriods.Of(occurredAt, customer.BillingTimeZone);
            resolved.Add(new UsageToRecord(customer.CustomerId, e.Id!, e.Meter!, quantity, occurredAt, dimensions, period,
                plan.PlanId, version.Version, price, customer.Currency, Late: false));
        }

        return resolved;
    }

    /// <summary>Whether the largest charge these units could cost stays within <see cref="Check.MaxMagnitude"/>.</summary>
    public static bool ChargeFits(MeterPrice price, decimal quantity)
    {
        var (units, unitPrice) = price.Model switch
        {
            PricingModel.Package => (Math.Ceiling(quantity / price.PackageSize!.Value) + 1, price.PackagePrice!.Value),
            PricingModel.Flat => (quantity, price.UnitPrice!.Value),
            _ => (quantity, price.Tiers!.Max(t => t.UnitPrice)),
        };
        return unitPrice == 0m || units <= Check.MaxMagnitude / unitPrice;
    }

    private static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>();

}
