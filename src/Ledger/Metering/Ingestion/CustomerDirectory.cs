using System.Collections.Concurrent;
using Ledger.Accounts;
using Ledger.Plans;
using Marten;
using Npgsql;

namespace Ledger.Metering.Ingestion;

/// <summary>
/// Customers and plans as usage validation and rating need them — the customers' write-side
/// accounts and the plans folded from their events, never the read models — cached for a short
/// time so a batch of 500 events does not read hundreds of rows. Writes on this node evict at
/// once; other nodes see a change within <see cref="TimeToLive"/>. Real-time rating may therefore
/// use a plan version up to that long after it changed; the period close prices from the events
/// and the plan history, so invoices are exact regardless. What must be exact at the moment of
/// recording (closed periods, balances) the usage writer reads from the locked account rows.
/// </summary>
public sealed class CustomerDirectory(IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock)
{
    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (Account Value, DateTimeOffset Until)> _customers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Plan Value, DateTimeOffset Until)> _plans = new(StringComparer.Ordinal);

    public async Task<(IReadOnlyDictionary<string, Account> Customers, IReadOnlyDictionary<string, Plan> Plans)> LookupAsync(
        IEnumerable<string> customerIds, CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        var customers = new Dictionary<string, Account>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in customerIds.Distinct(StringComparer.Ordinal))
        {
            if (_customers.TryGetValue(id, out var cached) && cached.Until > now) customers[id] = cached.Value;
            else missing.Add(id);
        }

        // The database only when something is not cached: the usual batch needs no query at all.
        if (missing.Count > 0)
        {
            foreach (var account in (await AccountTable.ReadManyAsync(dataSource, store.Options.DatabaseSchemaName, missing, cancellation)).Values)
            {
                customers[account.CustomerId] = account;
                _customers[account.CustomerId] = (account, now + TimeToLive);
            }
        }

        var plans = new Dictionary<string, Plan>(StringComparer.Ordinal);
        var missingPlans = new List<string>();
        foreach (var planId in customers.Values.Select(c => c.PlanId).Distinct(StringComparer.Ordinal))
        {
            if (_plans.TryGetValue(planId, out var cached) && cached.Until > now) plans[planId] = cached.Value;
            else missingPlans.Add(planId);
        }

        if (missingPlans.Count > 0)
        {
            await using var session = store.QuerySession();
            foreach (var plan in (await PlanHistory.LoadManyAsync(session, missingPlans, cancellation)).Values)
            {
                plans[plan.PlanId] = plan;
                _plans[plan.PlanId] = (plan, now + TimeToLive);
            }
        }

        return (customers, plans);
    }

    public void Evict(string? customerId = null, string? planId = null)
    {
        if (customerId is not null) _customers.TryRemove(customerId, out _);
        if (planId is not null) _plans.TryRemove(planId, out _);
    }
}
