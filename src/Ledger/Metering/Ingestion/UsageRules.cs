using Ledger.Accounts;
using Ledger.Common;
using Ledger.Plans;

namespace Ledger.Metering.Ingestion;

/// <summary>
/// The decisions on a group of accepted usage events, as pure functions of the write-side state
/// the usage writer has locked: which period each event is billed in, and what it is charged.
/// </summary>
public static class UsageRules
{
    /// <summary>
    /// Usage whose own period is already closed for its customer is billed in the earliest later
    /// period that is not, and marked late.
    /// </summary>
    public static UsageToRecord Bill(UsageToRecord usage, Account account)
    {
        var billed = account.BilledPeriod(usage.Period);
        return billed == usage.Period ? usage : usage with { Period = billed, Late = true };
    }

    /// <summary>The quantity each (customer, meter, billed period) receives from these events.</summary>
    public static Dictionary<(string Customer, string Meter, string Period), decimal> Quantities(IEnumerable<UsageToRecord> usage)
    {
        var totals = new Dictionary<(string, string, string), decimal>();
        foreach (var u in usage)
        {
            var key = (u.CustomerId, u.Meter, u.Period);
            totals[key] = totals.GetValueOrDefault(key) + u.Quantity;
        }

        return totals;
    }

    /// <summary>
    /// The real-time charge of each event, in recorded order: priced by the units of its period
    /// before it (<paramref name="totalsBefore"/> holds the period totals before these events).
    /// </summary>
    public static decimal[] Rate(IReadOnlyList<UsageToRecord> usage, IReadOnlyDictionary<(string Customer, string Meter, string Period), decimal> totalsBefore)
    {
        var running = new Dictionary<(string, string, string), decimal>(totalsBefore);
        var charges = new decimal[usage.Count];
        for (var i = 0; i < usage.Count; i++)
        {
            var u = usage[i];
            var key = (u.CustomerId, u.Meter, u.Period);
            var before = running.GetValueOrDefault(key);
            charges[i] = Pricing.RealTimeCharge(u.Price, before, u.Quantity);
            running[key] = before + u.Quantity;
        }

        return charges;
    }

    public static UsageRecorded ToEvent(UsageToRecord u, decimal amount, string source, DateTimeOffset now) =>
        new(u.CustomerId, u.EventId, u.Meter, u.Quantity, u.OccurredAt, u.Dimensions, u.Period, u.PlanId, u.PlanVersion,
            new Money(amount, u.Currency), u.Late, source, now);
}
