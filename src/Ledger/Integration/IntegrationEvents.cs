using System.Text.Json.Serialization;
using Ledger.Accounts;
using Ledger.Common;
using Ledger.Invoicing;
using Ledger.Wallets;
using Wolverine;

namespace Ledger.Integration;

/// <summary>
/// An integration event on <c>ledger.events.v1</c>: a CloudEvent 1.0 in structured JSON mode,
/// keyed by customer. Published through Wolverine's transactional outbox in the transaction of the
/// ledger events that cause it, so a crash can delay it but never lose it; consumers deduplicate on
/// <see cref="Id"/>, which is derived from what happened (the same fact always has the same id).
/// </summary>
public sealed record LedgerCloudEvent(
    [property: JsonPropertyName("specversion")] string SpecVersion,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("subject")] string Subject,
    [property: JsonPropertyName("time")] string Time,
    [property: JsonPropertyName("datacontenttype")] string DataContentType,
    [property: JsonPropertyName("data")] object Data);

/// <summary>The contract's integration events (docs/kafka.md), as pure functions of what a command decided.</summary>
public static class IntegrationEvents
{
    public const string Source = "urn:ledger";
    public const string ToppedUp = "ledger.wallet.topped_up";
    public const string Debited = "ledger.wallet.debited";
    public const string LowBalance = "ledger.wallet.low_balance";
    public const string Overdrawn = "ledger.wallet.overdrawn";
    public const string InvoiceIssued = "ledger.invoice.issued";

    private static readonly System.Diagnostics.Metrics.Counter<long> Enqueued = Hosting.Observability.Meter.CreateCounter<long>("ledger.integration.events", "{event}",
        "Integration events put in the outbox, by type: ledger.wallet.low_balance and ledger.wallet.overdrawn count wallets crossing into those states.");

    /// <summary>Counts an event put in the outbox (called where it is published, in the transaction that decides it).</summary>
    public static LedgerCloudEvent Counted(LedgerCloudEvent e)
    {
        Enqueued.Add(1, new KeyValuePair<string, object?>("type", e.Type));
        return e;
    }

    /// <summary>The record key is the customer id, so one customer's events stay in order on one partition.</summary>
    public static DeliveryOptions Keyed(LedgerCloudEvent e) => new() { GroupId = e.Subject, PartitionKey = e.Subject };

    /// <summary>What a money command that moved <paramref name="before"/> to <paramref name="after"/> publishes.</summary>
    public static IEnumerable<LedgerCloudEvent> ForMoneyCommand(Account before, Account after, object moved)
    {
        switch (moved)
        {
            case WalletToppedUp t:
                yield return Event(ToppedUp, $"{t.CustomerId}/{t.TopUpId}", t.CustomerId, t.ToppedUpAt, new
                {
                    customerId = t.CustomerId, topUpId = t.TopUpId, amount = t.Amount.ToMinorUnitString(), currency = t.Amount.Currency,
                    reference = t.Reference, balance = after.Balance.ToLedgerString(), version = after.WalletVersion,
                });
                break;
            case WalletDebited d:
                yield return Event(Debited, $"{d.CustomerId}/{d.DebitId}", d.CustomerId, d.DebitedAt, new
                {
                    customerId = d.CustomerId, debitId = d.DebitId, amount = d.Amount.ToMinorUnitString(), currency = d.Amount.Currency,
                    reason = d.Reason, balance = after.Balance.ToLedgerString(), version = after.WalletVersion,
                });
                break;
        }

        foreach (var crossing in Crossings(before, after, At(moved))) yield return crossing;
    }

    public static IEnumerable<LedgerCloudEvent> ForInvoice(Account before, Account after, Invoicing.InvoiceIssued issued, PeriodSettled settled)
    {
        var invoice = issued.Invoice;
        yield return Event(InvoiceIssued, invoice.Id, invoice.CustomerId, invoice.IssuedAt, new
        {
            id = invoice.Id, customerId = invoice.CustomerId, period = invoice.Period, currency = invoice.Currency,
            total = new Money(invoice.Total, invoice.Currency).ToMinorUnitString(), pdfSha256 = issued.PdfSha256,
        });
        foreach (var crossing in Crossings(before, after, settled.SettledAt)) yield return crossing;
    }

    /// <summary>
    /// <c>low_balance</c> when the balance goes from above the threshold to at or below it,
    /// <c>overdrawn</c> when it goes from zero or more to below zero: once per crossing (the id
    /// carries the wallet version at which it crossed).
    /// </summary>
    public static IEnumerable<LedgerCloudEvent> Crossings(Account before, Account after, DateTimeOffset at)
    {
        var data = new
        {
            customerId = after.CustomerId, balance = after.Balance.ToLedgerString(), currency = after.Currency,
            lowBalanceThreshold = after.LowBalanceThreshold.ToMinorUnitString(), version = after.WalletVersion,
        };
        if (before.Balance > before.LowBalanceThreshold && after.Balance <= after.LowBalanceThreshold)
        {
            yield return Event(LowBalance, $"{after.CustomerId}/{after.WalletVersion}", after.CustomerId, at, data);
        }

        if (!before.Balance.IsNegative && after.Balance.IsNegative)
        {
            yield return Event(Overdrawn, $"{after.CustomerId}/{after.WalletVersion}", after.CustomerId, at, data);
        }
    }

    private static DateTimeOffset At(object moved) => moved switch
    {
        WalletToppedUp t => t.ToppedUpAt,
        WalletDebited d => d.DebitedAt,
        WalletAdjusted a => a.AdjustedAt,
        _ => throw new ArgumentOutOfRangeException(nameof(moved)),
    };

    private static LedgerCloudEvent Event(string type, string key, string customerId, DateTimeOffset at, object data) =>
        new("1.0", $"{type}/{key}", Source, type, customerId, Timestamps.Format(at), "application/json", data);
}
