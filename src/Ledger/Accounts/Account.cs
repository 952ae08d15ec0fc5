using Ledger.Common;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Wallets;

namespace Ledger.Accounts;

/// <summary>
/// The write-side state of one customer: what every decision about the customer reads, and the
/// row every writer of the customer locks. It is the fold of the customer's stream (terms, money
/// commands, invoices, settlements) and of the usage charged to the customer, kept in the
/// <c>accounts</c> table in the same transaction as those events, and never touched by a
/// projection rebuild. <see cref="WalletVersion"/> is the wallet's <c>version</c> (one per event
/// that changes the wallet); <see cref="StreamVersion"/> is the version of the customer's stream,
/// the expected version of the next append to it.
/// </summary>
public sealed record Account(
    string CustomerId,
    string Name,
    string PlanId,
    Money Balance,
    Money CreditLimit,
    Money LowBalanceThreshold,
    string BillingTimeZone,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    long WalletVersion,
    long StreamVersion,
    IReadOnlyList<string> ClosedPeriods)
{
    public string Currency => Balance.Currency;

    public bool IsClosed(string period) => ClosedPeriods.Contains(period, StringComparer.Ordinal);

    /// <summary>The period usage occurring in <paramref name="period"/> is billed in: the first one from it that is not closed.</summary>
    public string BilledPeriod(string period)
    {
        while (IsClosed(period)) period = BillingPeriods.Next(period);
        return period;
    }

    public static Account Open(CustomerRegistered e) =>
        new(e.CustomerId, e.Name, e.PlanId, Money.Zero(e.Currency), e.CreditLimit, e.LowBalanceThreshold, e.BillingTimeZone,
            e.RegisteredAt, e.RegisteredAt, WalletVersion: 1, StreamVersion: 1, ClosedPeriods: []);

    /// <summary>Applies one event of the customer's stream, or one usage event charged to the customer.</summary>
    public Account Apply(object e) => e switch
    {
        CustomerUpdated u => this with
        {
            Name = u.Name, PlanId = u.PlanId, CreditLimit = u.CreditLimit, LowBalanceThreshold = u.LowBalanceThreshold,
            UpdatedAt = u.UpdatedAt, WalletVersion = WalletVersion + 1, StreamVersion = StreamVersion + 1,
        },
        WalletToppedUp t => Moved(t.Amount),
        WalletDebited d => Moved(-d.Amount),
        WalletAdjusted a => Moved(a.Amount),
        InvoiceIssued i => this with { StreamVersion = StreamVersion + 1, ClosedPeriods = [.. ClosedPeriods, i.Invoice.Period] },
        PeriodSettled p => Moved(-p.Amount),
        UsageRecorded u => Charge(u.Amount, 1),
        _ => this,
    };

    /// <summary>Usage charged to the wallet: <paramref name="events"/> usage events costing <paramref name="total"/> together.</summary>
    public Account Charge(Money total, long events) => this with { Balance = Balance - total, WalletVersion = WalletVersion + events };

    private Account Moved(Money amount) =>
        this with { Balance = Balance + amount, WalletVersion = WalletVersion + 1, StreamVersion = StreamVersion + 1 };

    /// <summary>Folds the accounts of every customer from their events, in the order the ledger recorded them.</summary>
    public static Dictionary<string, Account> FoldAll(IEnumerable<object> events)
    {
        var accounts = new Dictionary<string, Account>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            if (e is CustomerRegistered r)
            {
                accounts[r.CustomerId] = Open(r);
            }
            else if (CustomerOf(e) is { } customerId && accounts.TryGetValue(customerId, out var account))
            {
                accounts[customerId] = account.Apply(e);
            }
        }

        return accounts;
    }

    /// <summary>The event types an account is folded from.</summary>
    public static readonly Type[] EventTypes =
    [
        typeof(CustomerRegistered), typeof(CustomerUpdated), typeof(WalletToppedUp), typeof(WalletDebited), typeof(WalletAdjusted),
        typeof(InvoiceIssued), typeof(PeriodSettled), typeof(UsageRecorded),
    ];

    private static string? CustomerOf(object e) => e switch
    {
        CustomerUpdated u => u.CustomerId,
        WalletToppedUp t => t.CustomerId,
        WalletDebited d => d.CustomerId,
        WalletAdjusted a => a.CustomerId,
        InvoiceIssued i => i.Invoice.CustomerId,
        PeriodSettled p => p.CustomerId,
        UsageRecorded u => u.CustomerId,
        _ => null,
    };
}
