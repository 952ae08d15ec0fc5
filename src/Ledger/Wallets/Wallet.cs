using Ledger.Common;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;

namespace Ledger.Wallets;

public enum WalletStatus
{
    Active,
    Low,
    Overdrawn,
}

/// <summary>
/// A customer's prepaid wallet: the fold of its events — the customer's stream and the usage
/// charged to it. <see cref="Version"/> counts those events. The wallets table holds the same
/// fold, kept inline by <see cref="WalletTable"/>.
/// </summary>
public sealed record Wallet(
    string Id,
    string CustomerId,
    Money Balance,
    Money CreditLimit,
    Money LowBalanceThreshold,
    DateTimeOffset LastChangedAt)
{
    public long Version { get; init; }

    public string Currency => Balance.Currency;

    /// <summary>What can still be spent: the balance plus the credit limit.</summary>
    public Money Available => Balance + CreditLimit;

    public WalletStatus Status =>
        Balance.IsNegative ? WalletStatus.Overdrawn
        : Balance <= LowBalanceThreshold ? WalletStatus.Low
        : WalletStatus.Active;

    public static Wallet Open(CustomerRegistered e) =>
        new(StreamKeys.Customer(e.CustomerId), e.CustomerId, Money.Zero(e.Currency), e.CreditLimit, e.LowBalanceThreshold, e.RegisteredAt);

    public Wallet Apply(CustomerUpdated e) =>
        this with { CreditLimit = e.CreditLimit, LowBalanceThreshold = e.LowBalanceThreshold, LastChangedAt = e.UpdatedAt };

    public Wallet Apply(WalletToppedUp e) => this with { Balance = Balance + e.Amount, LastChangedAt = e.ToppedUpAt };

    public Wallet Apply(WalletDebited e) => this with { Balance = Balance - e.Amount, LastChangedAt = e.DebitedAt };

    public Wallet Apply(WalletAdjusted e) => this with { Balance = Balance + e.Amount, LastChangedAt = e.AdjustedAt };

    public Wallet Apply(UsageRecorded e) => this with { Balance = Balance - e.Amount, LastChangedAt = e.RecordedAt };

    public Wallet Apply(PeriodSettled e) => this with { Balance = Balance - e.Amount, LastChangedAt = e.SettledAt };

    /// <summary>Applies any wallet event and counts it; other events leave the wallet as it is.</summary>
    public Wallet Apply(object e)
    {
        var next = e switch
        {
            CustomerUpdated u => Apply(u),
            WalletToppedUp t => Apply(t),
            WalletDebited d => Apply(d),
            WalletAdjusted a => Apply(a),
            UsageRecorded u => Apply(u),
            PeriodSettled p => Apply(p),
            _ => null,
        };
        return next is null ? this : next with { Version = Version + 1 };
    }

    /// <summary>Folds a wallet's events in order, starting from the registration that opened it.</summary>
    public static Wallet? Fold(IEnumerable<object> events)
    {
        Wallet? wallet = null;
        foreach (var e in events)
        {
            wallet = e is CustomerRegistered r ? Open(r) with { Version = 1 } : wallet?.Apply(e);
        }

        return wallet;
    }
}
