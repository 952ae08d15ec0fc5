using System.Diagnostics.Metrics;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Ledger.Metering;
using Ledger.Metering.Ingestion;
using Ledger.Plans;
using Ledger.Wallets;
using Marten;
using Npgsql;

namespace Ledger.Invoicing;

public abstract record CloseOutcome
{
    public sealed record Closed(string Period, IReadOnlyList<string> Invoices) : CloseOutcome;

    public sealed record NotEnded(string Period, IReadOnlyList<string> Customers) : CloseOutcome;

    public sealed record UnknownCustomer(string CustomerId) : CloseOutcome;
}

/// <summary>
/// Closes a billing period: for each customer, in one transaction holding the wallet row (so no
/// usage of the period can be recorded meanwhile), prices the usage billed in the period,
/// renders the PDF, and appends <see cref="InvoiceIssued"/> and <see cref="PeriodSettled"/>.
/// Closing again finds the invoice and changes nothing.
/// </summary>
public sealed class PeriodCloser(IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock, IConfiguration configuration)
{
    private static readonly Counter<long> Issued = Observability.Meter.CreateCounter<long>("ledger.invoices.issued", "{invoice}", "Invoices issued.");

    public const int Parallelism = 4;

    private SellerInfo Seller => new(
        configuration["Ledger:Invoicing:Seller:Name"] ?? "Ledger Billing",
        configuration["Ledger:Invoicing:Seller:Address"] ?? "1 Ledger Street\nBengaluru 560001\nIndia",
        configuration["Ledger:Invoicing:Seller:TaxId"] ?? "GSTIN 29ABCDE1234F1Z5",
        configuration["Ledger:Invoicing:Seller:Email"] ?? "billing@ledger.example");

    public async Task<CloseOutcome> CloseAsync(string period, string? customerId, EventActor actor, CancellationToken cancellation)
    {
        var now = clock.GetUtcNow();
        List<Customer> customers;
        await using (var session = store.QuerySession())
        {
            if (customerId is not null)
            {
                var customer = ClientIds.IsValid(customerId) ? await session.LoadAsync<Customer>(StreamKeys.Customer(customerId), cancellation) : null;
                if (customer is null) return new CloseOutcome.UnknownCustomer(customerId);
                customers = [customer];
            }
            else
            {
                var withUsage = await CustomersWithUsageAsync(period, cancellation);
                customers = (await session.Query<Customer>().ToListAsync(cancellation))
                    .Where(c => c.CreatedAt < BillingPeriods.Bounds(period, c.BillingTimeZone).End || withUsage.Contains(c.CustomerId))
                    .OrderBy(c => c.CustomerId, StringComparer.Ordinal)
                    .ToList();
            }
        }

        var notEnded = customers.Where(c => BillingPeriods.Bounds(period, c.BillingTimeZone).End > now).Select(c => c.CustomerId).ToList();
        if (notEnded.Count > 0) return new CloseOutcome.NotEnded(period, notEnded);

        var invoices = new string[customers.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, customers.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellation },
            async (i, token) => invoices[i] = await CloseOneAsync(customers[i], period, actor, token));
        return new CloseOutcome.Closed(period, invoices);
    }

    private async Task<string> CloseOneAsync(Customer customer, string period, EventActor actor, CancellationToken cancellation)
    {
        var invoiceId = Invoice.IdFor(period, customer.CustomerId);
        var schema = store.Options.DatabaseSchemaName;
        await using var tx = await LedgerTransaction.BeginAsync(store, dataSource, cancellation);
        tx.Session.LastModifiedBy = actor.Name;
        tx.Session.CorrelationId = actor.CorrelationId;
        tx.Session.CausationId = actor.CausationId;

        // The wallet row lock orders this close against usage of the same customer: usage recorded
        // before it is invoiced here; usage recorded after it sees the invoice and goes to the next period.
        if (await WalletTable.ReadAsync(tx.Connection, tx.Transaction, schema, customer.CustomerId, forUpdate: true, cancellation) is null)
        {
            // Only while the wallets projection is being rebuilt: without the row there is nothing to order against.
            throw new InvalidOperationException($"The wallet of '{customer.CustomerId}' is missing; is the Wallets projection being rebuilt?");
        }

        if (await tx.Session.LoadAsync<Invoice>(invoiceId, cancellation) is not null) return invoiceId;

        var usage = await LoadUsageAsync(tx, schema, customer.CustomerId, period, cancellation);
        var (start, end) = BillingPeriods.Bounds(period, customer.BillingTimeZone);
        var taxPlanId = await PlanAtAsync(tx.Session, customer, end, cancellation);
        var computation = await ComputeAsync(tx.Session, customer.Currency, taxPlanId, usage, end, cancellation);

        var issuedAt = clock.GetUtcNow();
        var document = InvoiceDocument.Create(invoiceId, customer.CustomerId, customer.Name, period, start, end,
            customer.BillingTimeZone, customer.Currency, issuedAt, computation);
        var seller = Seller;
        var pdfSha256 = InvoicePdf.Sha256(InvoicePdf.Render(document, seller));
        var usageCharged = usage.Sum(u => u.Amount);
        var settlement = new Money(document.Total - usageCharged, customer.Currency);

        tx.Session.Events.Append(StreamKeys.Customer(customer.CustomerId),
            new InvoiceIssued(document, seller, usageCharged, pdfSha256),
            new PeriodSettled(customer.CustomerId, period, invoiceId, settlement, issuedAt));
        await tx.CommitAsync(cancellation);
        Issued.Add(1);
        return invoiceId;
    }

    /// <summary>
    /// The plan the customer was on when the period ended (whose tax rate applies), from the times
    /// carried by the customer's events; for a customer registered after the period (back-dated
    /// usage), the plan they were registered on.
    /// </summary>
    private static async Task<string> PlanAtAsync(IDocumentSession session, Customer customer, DateTimeOffset periodEnd, CancellationToken cancellation)
    {
        var assignments = (await session.Events.FetchStreamAsync(StreamKeys.Customer(customer.CustomerId), token: cancellation))
            .Select(e => e.Data switch
            {
                CustomerRegistered r => (At: r.RegisteredAt, PlanId: (string?)r.PlanId),
                CustomerUpdated u => (At: u.UpdatedAt, PlanId: u.PlanId),
                _ => (At: default(DateTimeOffset), PlanId: null),
            })
            .Where(a => a.PlanId is not null)
            .ToList();
        return assignments.LastOrDefault(a => a.At < periodEnd).PlanId ?? assignments.FirstOrDefault().PlanId ?? customer.PlanId;
    }

    /// <summary>
    /// Prices the period under the plans its usage was rated with (normally one), each event by the
    /// plan version in force at its <c>occurredAt</c> from the plan's history — so a real-time charge
    /// made with a plan cached just before a new version is corrected here.
    /// </summary>
    private static async Task<InvoiceComputation> ComputeAsync(IDocumentSession session, string currency, string taxPlanId,
        IReadOnlyList<PeriodUsage> usage, DateTimeOffset periodEnd, CancellationToken cancellation)
    {
        var planIds = usage.Select(u => u.Billable.PlanId!).Append(taxPlanId).Distinct(StringComparer.Ordinal).ToArray();
        var plans = (await session.LoadManyAsync<Plan>(cancellation, planIds.Select(StreamKeys.Plan))).ToDictionary(p => p.PlanId, StringComparer.Ordinal);
        var billable = usage.Select(u =>
        {
            var inForce = plans[u.Billable.PlanId!].VersionAt(u.OccurredAt);
            return inForce.Meters.ContainsKey(u.Billable.Meter) ? u.Billable with { PlanVersion = inForce.Version } : u.Billable;
        });
        return InvoiceCalculator.Compute(billable, plans, plans[taxPlanId], currency, periodEnd);
    }

    private sealed record PeriodUsage(BillableUsage Billable, decimal Amount, DateTimeOffset OccurredAt);

    private static async Task<List<PeriodUsage>> LoadUsageAsync(LedgerTransaction tx, string schema, string customerId, string period,
        CancellationToken cancellation)
    {
        await using var command = tx.Command(
            $"select data ->> 'planId', data ->> 'meter', (data ->> 'quantity')::numeric, (data ->> 'planVersion')::int, " +
            "(data ->> 'late')::boolean, (data -> 'amount' ->> 'amount')::numeric, (data ->> 'occurredAt')::timestamptz " +
            $"from {schema}.mt_events where type = 'usage_recorded' and data ->> 'customerId' = $1 and data ->> 'period' = $2 order by seq_id");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        command.Parameters.Add(new NpgsqlParameter { Value = period });
        var usage = new List<PeriodUsage>();
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            usage.Add(new PeriodUsage(
                new BillableUsage(reader.GetString(1), reader.GetDecimal(2), reader.GetInt32(3), reader.GetBoolean(4), reader.GetString(0)),
                reader.GetDecimal(5), reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return usage;
    }

    private async Task<HashSet<string>> CustomersWithUsageAsync(string period, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select distinct customer_id from {store.Options.DatabaseSchemaName}.{MeteringSchema.PeriodTotals} where period = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = period });
        var customers = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) customers.Add(reader.GetString(0));
        return customers;
    }
}
