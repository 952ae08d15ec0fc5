using Ledger.Common;
using Ledger.Customers;
using Marten.Events.Aggregation;

namespace Ledger.Wallets;

public enum WalletStatus
{
    Active,
    Low,
    Overdrawn,
}

/// <summary>
/// A customer's prepaid wallet, folded from the customer's stream. <see cref="Version"/> is the
/// stream version, set by Marten.
/// </summary>
public sealed record Wallet(
    string Id,
    string CustomerId,
    Money Balance,
    Money CreditLimit,
    Money LowBalanceThreshold,
    DateTimeOffset LastChangedAt)
{
    public long Version { get; set; }

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

    /// <summary>Applies any wallet event; other events leave the wallet as it is.</summary>
    public Wallet Apply(object e) => e switch
    {
        CustomerUpdated u => Apply(u),
        WalletToppedUp t => Apply(t),
        WalletDebited d => Apply(d),
        WalletAdjusted a => Apply(a),
        _ => this,
    };
}

public sealed class WalletProjection : SingleStreamProjection<Wallet, string>
{
    public static Wallet Create(CustomerRegistered e) => Wallet.Open(e);

    public static Wallet Apply(CustomerUpdated e, Wallet wallet) => wallet.Apply(e);

    public static Wallet Apply(WalletToppedUp e, Wallet wallet) => wallet.Apply(e);

    public static Wallet Apply(WalletDebited e, Wallet wallet) => wallet.Apply(e);

    public static Wallet Apply(WalletAdjusted e, Wallet wallet) => wallet.Apply(e);
}
