using Ledger.Accounts;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Ledger.Wallets;

namespace Ledger.Tests.Wallets;

/// <summary>The wallet's rules without a database: every rejection reason, one row each, in the order they apply.</summary>
public class WalletRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static object[] Opened(decimal balance, decimal creditLimit = 0m, string currency = "INR") =>
    [
        new CustomerRegistered("acme", "Acme", "starter", currency, new Money(creditLimit, currency), new Money(100m, currency), "UTC", Now),
        new WalletToppedUp("acme", "seed", new Money(balance, currency), null, Now),
    ];

    /// <summary>The write-side account the decisions read, folded from its events.</summary>
    private static Account WalletWith(decimal balance, decimal creditLimit = 0m, string currency = "INR") =>
        Account.FoldAll(Opened(balance, creditLimit, currency))["acme"];

    private static MoneyCommandRequest Request(string? id = "c-1", string? amount = "10.00", bool malformed = false,
        string? reference = null, string? reason = "because") =>
        new(id, new DecimalText(amount, malformed), reference, reason);

    public static TheoryData<MoneyCommandKind, MoneyCommandRequest, string, string> InvalidRequests => new()
    {
        // kind, request, field, message
        { MoneyCommandKind.TopUp, Request(id: null), "id", "Is required." },
        { MoneyCommandKind.TopUp, Request(id: "has space"), "id", ClientIds.Rule },
        { MoneyCommandKind.TopUp, Request(id: new string('a', 65)), "id", ClientIds.Rule },
        { MoneyCommandKind.TopUp, Request(amount: null), "amount", "Is required." },
        { MoneyCommandKind.TopUp, Request(amount: null, malformed: true), "amount", "Must be a decimal string such as \"12.50\"." },
        { MoneyCommandKind.TopUp, Request(amount: "12,50"), "amount", "Must be a decimal string such as \"12.50\"." },
        { MoneyCommandKind.TopUp, Request(amount: "1e3"), "amount", "Must be a decimal string such as \"12.50\"." },
        { MoneyCommandKind.TopUp, Request(amount: " 5"), "amount", "Must be a decimal string such as \"12.50\"." },
        { MoneyCommandKind.TopUp, Request(amount: "0"), "amount", "Must be greater than zero." },
        { MoneyCommandKind.TopUp, Request(amount: "-5.00"), "amount", "Must be greater than zero." },
        { MoneyCommandKind.TopUp, Request(amount: "1.0001"), "amount", "Must have at most 3 decimal places." },
        { MoneyCommandKind.TopUp, Request(reference: new string('r', 501)), "reference", "Must be at most 500 characters." },
        { MoneyCommandKind.Debit, Request(amount: "0.00"), "amount", "Must be greater than zero." },
        { MoneyCommandKind.Debit, Request(reason: null), "reason", "Is required." },
        { MoneyCommandKind.Debit, Request(reason: "   "), "reason", "Is required." },
        { MoneyCommandKind.Adjustment, Request(amount: "0"), "amount", "Must not be zero." },
        { MoneyCommandKind.Adjustment, Request(reason: null), "reason", "Is required." },
    };

    [Theory]
    [MemberData(nameof(InvalidRequests))]
    public void An_invalid_request_is_refused_with_the_field_and_the_reason(MoneyCommandKind kind, MoneyCommandRequest request,
        string field, string message)
    {
        var errors = new FieldErrors();

        var command = WalletRules.Validate(kind, "acme", request, errors);

        command.ShouldBeNull();
        errors.ToDictionary().ShouldContainKey(field);
        errors.ToDictionary()[field].ShouldContain(message);
    }

    [Theory]
    [InlineData(MoneyCommandKind.TopUp, "500.00")]
    [InlineData(MoneyCommandKind.Debit, "25")]
    [InlineData(MoneyCommandKind.Adjustment, "-12.00")]
    [InlineData(MoneyCommandKind.Adjustment, "12.5")]
    public void A_valid_request_becomes_a_command(MoneyCommandKind kind, string amount)
    {
        var errors = new FieldErrors();

        var command = WalletRules.Validate(kind, "acme", Request(amount: amount), errors);

        errors.Any.ShouldBeFalse();
        command.ShouldNotBeNull().Amount.ShouldBe(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture));
    }

    public static TheoryData<string, decimal, decimal, MoneyCommandKind, string, WalletRefusal> Refusals => new()
    {
        // currency, balance, credit limit, kind, amount, refusal — in the order the rules apply
        { "INR", 100m, 0m, MoneyCommandKind.TopUp, "10.005", WalletRefusal.AmountTooPrecise },
        { "JPY", 100m, 0m, MoneyCommandKind.Debit, "1.5", WalletRefusal.AmountTooPrecise },
        { "INR", 100m, 0m, MoneyCommandKind.Debit, "100.01", WalletRefusal.InsufficientFunds },
        { "INR", 0m, 50m, MoneyCommandKind.Debit, "50.01", WalletRefusal.InsufficientFunds },
        { "INR", -10m, 0m, MoneyCommandKind.Debit, "0.01", WalletRefusal.InsufficientFunds },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void A_command_the_wallet_cannot_take_is_refused(string currency, decimal balance, decimal creditLimit,
        MoneyCommandKind kind, string amount, WalletRefusal refusal)
    {
        var wallet = WalletWith(balance, creditLimit, currency);
        var command = WalletRules.Validate(kind, "acme", Request(amount: amount), new FieldErrors()).ShouldNotBeNull();

        var decision = WalletRules.Decide(wallet, command, Now);

        decision.ShouldBeOfType<WalletDecision.Refused>().Reason.ShouldBe(refusal);
    }

    [Theory]
    [InlineData(100, 0, "100.00", "0.000000")]      // to exactly zero
    [InlineData(0, 50, "50.00", "-50.000000")]      // to exactly −creditLimit
    [InlineData(10.5, 0, "0.50", "10.000000")]
    public void A_debit_down_to_the_credit_limit_is_accepted(decimal balance, decimal creditLimit, string amount, string balanceAfter)
    {
        var wallet = WalletWith(balance, creditLimit);
        var command = WalletRules.Validate(MoneyCommandKind.Debit, "acme", Request(amount: amount), new FieldErrors()).ShouldNotBeNull();

        var decision = WalletRules.Decide(wallet, command, Now);

        var debited = decision.ShouldBeOfType<WalletDecision.Accepted>().Event.ShouldBeOfType<WalletDebited>();
        debited.DebitedAt.ShouldBe(Now);
        wallet.Apply(debited).Balance.ToLedgerString().ShouldBe(balanceAfter);
    }

    [Fact]
    public void Adjustments_may_take_the_wallet_below_the_credit_limit_and_status_follows_the_balance()
    {
        var fix = new WalletAdjusted("acme", "a1", new Money(-50m, "INR"), "fix", Now);
        Wallet.Fold(Opened(150m)).ShouldNotBeNull().Status.ShouldBe(WalletStatus.Active);
        Wallet.Fold([.. Opened(150m), fix]).ShouldNotBeNull().Status.ShouldBe(WalletStatus.Low); // 100 ≤ threshold 100

        var command = WalletRules.Validate(MoneyCommandKind.Adjustment, "acme", Request(amount: "-100.01"), new FieldErrors()).ShouldNotBeNull();
        var adjusted = WalletRules.Decide(WalletWith(150m).Apply(fix), command, Now).ShouldBeOfType<WalletDecision.Accepted>().Event;
        var overdrawn = Wallet.Fold([.. Opened(150m), fix, adjusted]).ShouldNotBeNull();

        overdrawn.Balance.ToLedgerString().ShouldBe("-0.010000");
        overdrawn.Status.ShouldBe(WalletStatus.Overdrawn);
        overdrawn.Available.ToLedgerString().ShouldBe("-0.010000");
    }

    [Fact]
    public void The_fingerprint_ignores_trailing_zeros_but_not_the_amount_or_the_text()
    {
        MoneyCommand Command(string amount, string? note) =>
            new(MoneyCommandKind.TopUp, "acme", "tu-1", decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), 2, note);

        Command("500", "pay").Fingerprint.ShouldBe(Command("500.00", "pay").Fingerprint);
        Command("500.01", "pay").Fingerprint.ShouldNotBe(Command("500.00", "pay").Fingerprint);
        Command("500.00", "other").Fingerprint.ShouldNotBe(Command("500.00", "pay").Fingerprint);
    }
}
