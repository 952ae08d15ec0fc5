using System.Globalization;
using Ledger.Common;
using Ledger.Hosting;

namespace Ledger.Wallets;

public enum MoneyCommandKind
{
    TopUp,
    Debit,
    Adjustment,
}

/// <summary>A validated money command against one wallet; <see cref="Id"/> is the client's idempotency key.</summary>
public sealed record MoneyCommand(MoneyCommandKind Kind, string CustomerId, string Id, decimal Amount, int AmountScale, string? Note)
    : ILedgerCommand
{
    public EventActor Actor { get; init; } = new(EventActor.SystemActor, null, null);

    /// <summary>The content that must match when the same id is sent again.</summary>
    public string Fingerprint =>
        $"{Kind}|{DecimalText.Canonical(Amount)}|{Note}";
}

/// <summary>The body of every money command; which text field applies depends on the command.</summary>
public sealed record MoneyCommandRequest(string? Id, DecimalText Amount, string? Reference, string? Reason);

public abstract record WalletDecision
{
    public sealed record Accepted(object Event) : WalletDecision;

    public sealed record Refused(WalletRefusal Reason, string Detail) : WalletDecision;
}

public enum WalletRefusal
{
    /// <summary>More decimal places than the wallet currency's minor unit (400).</summary>
    AmountTooPrecise,

    /// <summary>A manual debit would take the balance below −creditLimit (422).</summary>
    InsufficientFunds,
}

/// <summary>The wallet's rules as pure functions: validation of a request, then the decision on a wallet.</summary>
public static class WalletRules
{
    public const int MaxTextLength = 500;

    /// <summary>The largest number of decimal places any currency accepts; the wallet's currency narrows it.</summary>
    private const int MaxInputScale = 3;

    public static MoneyCommand? Validate(MoneyCommandKind kind, string customerId, MoneyCommandRequest request, FieldErrors errors)
    {
        Check.ClientId(errors, "id", request.Id);

        decimal? amount;
        if (kind == MoneyCommandKind.Adjustment)
        {
            amount = Check.Decimal(errors, "amount", request.Amount, int.MaxValue, allowZero: false);
        }
        else
        {
            amount = Check.Decimal(errors, "amount", request.Amount, int.MaxValue, positive: true);
        }

        var note = kind == MoneyCommandKind.TopUp ? request.Reference : request.Reason;
        if (kind == MoneyCommandKind.TopUp) Check.Text(errors, "reference", request.Reference, MaxTextLength, required: false);
        else Check.Text(errors, "reason", request.Reason, MaxTextLength);

        if (errors.Any) return null;

        DecimalText.TryParse(request.Amount.Text, out _, out var scale);
        if (scale > MaxInputScale)
        {
            errors.Add("amount", $"Must have at most {MaxInputScale} decimal places.");
            return null;
        }

        return new MoneyCommand(kind, customerId, request.Id!, amount!.Value, scale, note?.Trim());
    }

    /// <summary>The decision on the customer's account as it is now (write-side state, locked by the caller).</summary>
    public static WalletDecision Decide(Accounts.Account wallet, MoneyCommand command, DateTimeOffset now)
    {
        var minorUnits = Currencies.MinorUnits(wallet.Currency);
        if (command.AmountScale > minorUnits)
        {
            return new WalletDecision.Refused(WalletRefusal.AmountTooPrecise,
                $"Amounts in {wallet.Currency} have at most {minorUnits} decimal places.");
        }

        var amount = new Money(command.Amount, wallet.Currency);
        switch (command.Kind)
        {
            case MoneyCommandKind.TopUp:
                return new WalletDecision.Accepted(new WalletToppedUp(wallet.CustomerId, command.Id, amount, command.Note, now));
            case MoneyCommandKind.Debit:
                var floor = -wallet.CreditLimit;
                if (wallet.Balance - amount < floor)
                {
                    return new WalletDecision.Refused(WalletRefusal.InsufficientFunds,
                        $"Debiting {amount.ToMinorUnitString()} would take the balance to {(wallet.Balance - amount).ToLedgerString()}, " +
                        $"below the credit limit of {wallet.CreditLimit.ToMinorUnitString()} {wallet.Currency}.");
                }

                return new WalletDecision.Accepted(new WalletDebited(wallet.CustomerId, command.Id, amount, command.Note!, now));
            case MoneyCommandKind.Adjustment:
                return new WalletDecision.Accepted(new WalletAdjusted(wallet.CustomerId, command.Id, amount, command.Note!, now));
            default:
                throw new ArgumentOutOfRangeException(nameof(command), command.Kind, "Unknown money command.");
        }
    }
}
