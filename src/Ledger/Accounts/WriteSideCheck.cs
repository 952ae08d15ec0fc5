using JasperFx.Events;
using Ledger.Metering;
using Marten;
using Marten.Events;
using Npgsql;

namespace Ledger.Accounts;

/// <summary>
/// Checks the write-side state against the events it must equal: every account row against the
/// fold of its customer's events, and every period running total against the sum of the usage
/// billed in that period. Used by the tests (and by <c>verify</c> once the audit trail lands).
/// </summary>
public static class WriteSideCheck
{
    /// <summary>Every difference between the write-side tables and the events; empty when they agree. With a customer, only that customer.</summary>
    public static async Task<List<string>> DifferencesAsync(IDocumentStore store, NpgsqlDataSource dataSource, CancellationToken cancellation,
        string? customerId = null)
    {
        var events = new List<object>();
        await using (var session = store.QuerySession())
        {
            if (customerId is not null)
            {
                // A balance is a sum and a version a count: the customer's stream, then its usage, folds to the same account.
                events.AddRange((await session.Events.FetchStreamAsync(Common.StreamKeys.Customer(customerId), token: cancellation)).Select(e => e.Data));
                events.AddRange(await session.Events.QueryRawEventDataOnly<UsageRecorded>().Where(u => u.CustomerId == customerId).ToListAsync(cancellation));
            }
            else
            {
                long after = 0;
                while (true)
                {
                    var page = await session.Events.QueryAllRawEvents()
                        .Where(e => e.Sequence > after && e.EventTypesAre(Account.EventTypes))
                        .OrderBy(e => e.Sequence).Take(10_000).ToListAsync(cancellation);
                    if (page.Count == 0) break;
                    events.AddRange(page.Select(e => e.Data));
                    after = page[^1].Sequence;
                }
            }
        }

        return await DifferencesAsync(store, dataSource, events, customerId, cancellation);
    }

    /// <summary>
    /// The same check against events the caller has already loaded: every event of the customer
    /// (or of every customer, with no customer), in any order (a balance is a sum, a version a count).
    /// </summary>
    public static async Task<List<string>> DifferencesAsync(IDocumentStore store, NpgsqlDataSource dataSource, IReadOnlyCollection<object> events,
        string? customerId, CancellationToken cancellation)
    {
        var differences = new List<string>();
        var schema = store.Options.DatabaseSchemaName;
        var expected = Account.FoldAll(events);
        var found = await AccountTable.ReadManyAsync(dataSource, schema, customerId is null ? null : [customerId], cancellation);
        foreach (var id in expected.Keys.Union(found.Keys).Order(StringComparer.Ordinal))
        {
            var (e, f) = (expected.GetValueOrDefault(id), found.GetValueOrDefault(id));
            if (e is null || f is null) differences.Add($"account {id}: expected {(e is null ? "none" : "a row")}, found {(f is null ? "none" : "a row")}");
            else if (Describe(e) != Describe(f)) differences.Add($"account {id}: expected {Describe(e)}, found {Describe(f)}");
        }

        var totals = UsageTotals(events.OfType<UsageRecorded>());
        var stored = await PeriodTotalsAsync(dataSource, schema, customerId, cancellation);
        foreach (var key in totals.Keys.Union(stored.Keys).Order())
        {
            var (e, f) = (totals.GetValueOrDefault(key), stored.GetValueOrDefault(key));
            if (e != f) differences.Add($"period total {key}: expected {Common.DecimalText.Canonical(e)}, found {Common.DecimalText.Canonical(f)}");
        }

        return differences;
    }

    private static string Describe(Account a) =>
        $"{{balance {a.Balance.Amount:0.000000}, wallet version {a.WalletVersion}, stream version {a.StreamVersion}, " +
        $"plan {a.PlanId}, name {a.Name}, credit limit {a.CreditLimit.Amount:0.######}, threshold {a.LowBalanceThreshold.Amount:0.######}, " +
        $"closed [{string.Join(",", a.ClosedPeriods.Order(StringComparer.Ordinal))}]}}";

    private static Dictionary<string, decimal> UsageTotals(IEnumerable<UsageRecorded> usage) =>
        usage.GroupBy(u => $"{u.CustomerId}/{u.Meter}/{u.Period}", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(u => u.Quantity), StringComparer.Ordinal);

    private static async Task<Dictionary<string, decimal>> PeriodTotalsAsync(NpgsqlDataSource dataSource, string schema, string? customerId,
        CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select customer_id, meter, period, quantity from {schema}.{MeteringSchema.PeriodTotals} where $1::text is null or customer_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)customerId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var totals = new Dictionary<string, decimal>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) totals[$"{reader.GetString(0)}/{reader.GetString(1)}/{reader.GetString(2)}"] = reader.GetDecimal(3);
        return totals;
    }
}
