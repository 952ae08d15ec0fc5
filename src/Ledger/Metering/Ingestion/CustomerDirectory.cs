using System.Collections.Concurrent;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Plans;
using Marten;

namespace Ledger.Metering.Ingestion;

/// <summary>
/// Customers and plans as usage validation and rating need them, cached for a short time so a
/// batch of 500 events does not load hundreds of documents. Writes on this node evict at once;
/// other nodes see a change within <see cref="TimeToLive"/>. Real-time rating may therefore use
/// a plan version up to that long after it changed; the period close prices from the events and
/// the plan history, so invoices are exact regardless.
/// </summary>
public sealed class CustomerDirectory(IDocumentStore store, TimeProvider clock)
{
    public static readonly TimeSpan TimeToLive = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, (Customer Value, DateTimeOffset Until)> _customers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Plan Value, DateTimeOffset Until)> _plans = new(StringComparer.Ordinal);

    public async Task<(IReadOnlyDictionary<string, Customer> Customers, IReadOnlyDictionary<string, Plan> Plans)> LookupAsync(
        IEnumerable<string> customerIds, CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        var customers = new Dictionary<string, Customer>(StringComparer.Ordinal);
        var missing = new List<string>();
        foreach (var id in customerIds.Distinct(StringComparer.Ordinal))
        {
            if (_customers.TryGetValue(id, out var cached) && cached.Until > now) customers[id] = cached.Value;
            else missing.Add(id);
        }

        // A session only when something is not cached: the usual batch needs no database at all.
        IQuerySession? session = null;
        if (missing.Count > 0)
        {
            session = store.QuerySession();
            foreach (var customer in await session.LoadManyAsync<Customer>(cancellation, missing.Select(StreamKeys.Customer)))
            {
                customers[customer.CustomerId] = customer;
                _customers[customer.CustomerId] = (customer, now + TimeToLive);
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
            session ??= store.QuerySession();
            foreach (var plan in await session.LoadManyAsync<Plan>(cancellation, missingPlans.Select(StreamKeys.Plan)))
            {
                plans[plan.PlanId] = plan;
                _plans[plan.PlanId] = (plan, now + TimeToLive);
            }
        }

        if (session is not null) await session.DisposeAsync();
        return (customers, plans);
    }

    public void Evict(string? customerId = null, string? planId = null)
    {
        if (customerId is not null) _customers.TryRemove(customerId, out _);
        if (planId is not null) _plans.TryRemove(planId, out _);
    }
}
