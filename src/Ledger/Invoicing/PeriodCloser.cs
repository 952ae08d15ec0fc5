using System.Diagnostics.Metrics;
using Ledger.Accounts;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Ledger.Metering;
using Ledger.Plans;
using Marten;
using Npgsql;
using Wolverine;
using Wolverine.Runtime;

namespace Ledger.Invoicing;

public abstract record CloseOutcome
{
    public sealed record Closed(string Period, IReadOnlyList<string> Invoices) : CloseOutcome;

    public sealed record NotEnded(string Period, IReadOnlyList<string> Customers) : CloseOutcome;

    public sealed record UnknownCustomer(string CustomerId) : CloseOutcome;
}

/// <summary>Close a billing period for every customer, or for one (a message, whichever transport brings it).</summary>
public sealed record ClosePeriod(string Period, string? CustomerId, EventActor Actor) : ILedgerCommand;

/// <summary>Close one customer's billing period: the money and period boundary is the customer's account.</summary>
public sealed record CloseCustomerPeriod(string CustomerId, string Period, EventActor Actor) : ILedgerCommand;

/// <summary>
/// Closes a billing period: finds the customers to invoice from the write-side accounts (every
/// customer that existed before the period ended, or has usage billed in it), refuses while the
/// period has not ended in one of their time zones, then closes each customer in a transaction of
/// its own (<see cref="CloseCustomerPeriodHandler"/>), four at a time.
/// </summary>
public static class ClosePeriodHandler
{
    public const int Parallelism = 4;

    private static readonly Histogram<double> Duration = Observability.Meter.CreateHistogram<double>("ledger.billing.close.duration", "s",
        "Time to close a billing period (all its customers, or one).");

    public static async Task<CloseOutcome> Handle(ClosePeriod command, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock,
        IWolverineRuntime runtime, CancellationToken cancellation)
    {
        var period = command.Period;
        var schema = store.Options.DatabaseSchemaName;
        List<Account> customers;
        if (command.CustomerId is { } customerId)
        {
            var account = ClientIds.IsValid(customerId)
                ? (await AccountTable.ReadManyAsync(dataSource, schema, [customerId], cancellation)).GetValueOrDefault(customerId)
                : null;
            if (account is null) return new CloseOutcome.UnknownCustomer(customerId);
            customers = [account];
        }
        else
        {
            var withUsage = await CustomersWithUsageAsync(dataSource, schema, period, cancellation);
            customers = (await AccountTable.ReadManyAsync(dataSource, schema, null, cancellation)).Values
                .Where(c => c.CreatedAt < BillingPeriods.Bounds(period, c.BillingTimeZone).End || withUsage.Contains(c.CustomerId))
                .OrderBy(c => c.CustomerId, StringComparer.Ordinal)
                .ToList();
        }

        var now = clock.GetUtcNow();
        var notEnded = customers.Where(c => BillingPeriods.Bounds(period, c.BillingTimeZone).End > now).Select(c => c.CustomerId).ToList();
        if (notEnded.Count > 0) return new CloseOutcome.NotEnded(period, notEnded);

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var invoices = new string[customers.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, customers.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellation },
            async (i, token) => invoices[i] = await new MessageBus(runtime)
                .InvokeAsync<string>(new CloseCustomerPeriod(customers[i].CustomerId, period, command.Actor), token));
        Duration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        return new CloseOutcome.Closed(period, invoices);
    }

    /// <summary>Customers with usage billed in the period, from the write-side running totals.</summary>
    private static async Task<HashSet<string>> CustomersWithUsageAsync(NpgsqlDataSource dataSource, string schema, string period,
        CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select distinct customer_id from {schema}.{MeteringSchema.PeriodTotals} where period = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = period });
        var customers = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation)) customers.Add(reader.GetString(0));
        return customers;
    }
}

/// <summary>
/// Closes one customer's period in one transaction holding the customer's account row, so no usage
/// of the period can be recorded meanwhile: reads the usage billed in the period and the plans
/// from the events, decides (<see cref="PeriodCloseRules"/>), appends <see cref="InvoiceIssued"/>
/// and <see cref="PeriodSettled"/>. Closing again finds the period closed in the account and
/// changes nothing.
/// </summary>
public static class CloseCustomerPeriodHandler
{
    private static readonly Counter<long> Issued = Observability.Meter.CreateCounter<long>("ledger.invoices.issued", "{invoice}", "Invoices issued.");

    public static async Task<string> Handle(CloseCustomerPeriod command, IDocumentSession session, IMessageContext messaging, TimeProvider clock,
        IConfiguration configuration, CancellationToken cancellation)
    {
        var account = await AccountTable.LockAsync(session, command.CustomerId, cancellation)
                      ?? throw new InvalidOperationException($"No account for customer '{command.CustomerId}'.");
        var invoiceId = Invoice.IdFor(command.Period, command.CustomerId);
        if (account.IsClosed(command.Period)) return invoiceId;

        var usage = await session.Events.QueryRawEventDataOnly<UsageRecorded>()
            .Where(u => u.CustomerId == command.CustomerId && u.Period == command.Period)
            .ToListAsync(cancellation);
        var stream = await session.Events.FetchStreamAsync(StreamKeys.Customer(command.CustomerId), token: cancellation);
        var end = BillingPeriods.Bounds(command.Period, account.BillingTimeZone).End;
        var taxPlanId = PeriodCloseRules.PlanAt(stream.Select(e => e.Data), end) ?? account.PlanId;
        var plans = await PlanHistory.LoadManyAsync(session, usage.Select(u => u.PlanId).Append(taxPlanId).Distinct(StringComparer.Ordinal).ToList(),
            cancellation);

        var (issued, settled) = PeriodCloseRules.Decide(account, command.Period, usage, plans, taxPlanId, SellerInfo.From(configuration), clock.GetUtcNow());
        var after = account.Apply(issued).Apply(settled);
        session.Events.Append(StreamKeys.Customer(command.CustomerId), after.StreamVersion, issued, settled);
        AccountTable.Save(session, session.DocumentStore.Options.DatabaseSchemaName, after);
        foreach (var integration in Integration.IntegrationEvents.ForInvoice(account, after, issued, settled))
        {
            await messaging.PublishAsync(Integration.IntegrationEvents.Counted(integration), Integration.IntegrationEvents.Keyed(integration));
        }

        Issued.Add(1);
        return invoiceId;
    }
}

/// <summary>The period close as pure functions of the customer's account, its usage, and the plans' history.</summary>
public static class PeriodCloseRules
{
    /// <summary>
    /// Prices the period under the plans its usage was rated with (normally one), each event by the
    /// plan version in force at its <c>occurredAt</c> — so a real-time charge made with a plan
    /// cached just before a new version is corrected here — taxes it at the plan the customer was
    /// on when the period ended, and settles the wallet: total − Σ real-time charges of the period.
    /// </summary>
    public static (InvoiceIssued Issued, PeriodSettled Settled) Decide(Account account, string period, IReadOnlyList<UsageRecorded> usage,
        IReadOnlyDictionary<string, Plan> plans, string taxPlanId, SellerInfo seller, DateTimeOffset now)
    {
        var invoiceId = Invoice.IdFor(period, account.CustomerId);
        var (start, end) = BillingPeriods.Bounds(period, account.BillingTimeZone);
        var billable = usage.Select(u =>
        {
            var inForce = plans[u.PlanId].VersionAt(u.OccurredAt);
            return new BillableUsage(u.Meter, u.Quantity, inForce.Meters.ContainsKey(u.Meter) ? inForce.Version : u.PlanVersion, u.Late, u.PlanId);
        });
        var computation = InvoiceCalculator.Compute(billable, plans, plans[taxPlanId], account.Currency, end);

        var document = InvoiceDocument.Create(invoiceId, account.CustomerId, account.Name, period, start, end,
            account.BillingTimeZone, account.Currency, now, computation);
        var pdfSha256 = InvoicePdf.Sha256(InvoicePdf.Render(document, seller));
        var usageCharged = usage.Sum(u => u.Amount.Amount);
        var settlement = new Money(document.Total - usageCharged, account.Currency);
        return (new InvoiceIssued(document, seller, usageCharged, pdfSha256),
            new PeriodSettled(account.CustomerId, period, invoiceId, settlement, now));
    }

    /// <summary>
    /// The plan the customer was on when the period ended (whose tax rate applies), from the times
    /// carried by the customer's events; for a customer registered after the period (back-dated
    /// usage), the plan they were registered on.
    /// </summary>
    public static string? PlanAt(IEnumerable<object> customerEvents, DateTimeOffset periodEnd)
    {
        var assignments = customerEvents
            .Select(e => e switch
            {
                CustomerRegistered r => (At: r.RegisteredAt, PlanId: (string?)r.PlanId),
                CustomerUpdated u => (At: u.UpdatedAt, PlanId: u.PlanId),
                _ => (At: default(DateTimeOffset), PlanId: null),
            })
            .Where(a => a.PlanId is not null)
            .ToList();
        return assignments.LastOrDefault(a => a.At < periodEnd).PlanId ?? assignments.FirstOrDefault().PlanId;
    }
}
