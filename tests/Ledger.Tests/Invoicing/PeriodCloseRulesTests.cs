using Ledger.Accounts;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Plans;

namespace Ledger.Tests.Invoicing;

/// <summary>The period close as a pure function: account, usage billed in the period, plan history.</summary>
public class PeriodCloseRulesTests
{
    private static readonly DateTimeOffset Registered = new(2026, 9, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Now = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly SellerInfo Seller = new("Ledger Billing", "1 Ledger Street", "GSTIN 1", "billing@ledger.example");

    private static readonly Plan Starter = PlanHistory.Fold([
        new PlanVersionPublished("starter", 1, "INR", 0.18m, new Dictionary<string, MeterPrice> { ["otp.whatsapp"] = new(PricingModel.Flat, UnitPrice: 0.115m) },
            Registered, Registered),
        new PlanVersionPublished("starter", 2, "INR", 0.18m, new Dictionary<string, MeterPrice> { ["otp.whatsapp"] = new(PricingModel.Flat, UnitPrice: 0.10m) },
            new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero)),
    ])!;

    private static Account Acme => Account.Open(new CustomerRegistered("acme", "Acme", "starter", "INR", new Money(0m, "INR"),
        new Money(0m, "INR"), "UTC", Registered));

    private static UsageRecorded Usage(decimal quantity, DateTimeOffset occurredAt, decimal charged, int planVersion = 1) =>
        new("acme", Guid.NewGuid().ToString("N"), "otp.whatsapp", quantity, occurredAt, new Dictionary<string, string>(), "2026-10", "starter",
            planVersion, new Money(charged, "INR"), false, "http", occurredAt);

    [Fact]
    public void The_invoice_prices_each_event_by_the_version_in_force_and_the_settlement_trues_up_the_real_time_charges()
    {
        // 100 before the new version at 0.115 and 100 after at 0.10; real time charged both at 0.115 (a stale plan).
        var usage = new[]
        {
            Usage(100m, new DateTimeOffset(2026, 10, 5, 0, 0, 0, TimeSpan.Zero), 11.5m),
            Usage(100m, new DateTimeOffset(2026, 10, 25, 0, 0, 0, TimeSpan.Zero), 11.5m),
        };

        var (issued, settled) = PeriodCloseRules.Decide(Acme, "2026-10", usage, new Dictionary<string, Plan> { ["starter"] = Starter }, "starter", Seller, Now);

        issued.Invoice.Id.ShouldBe("INV-2026-10-acme");
        issued.Invoice.Subtotal.ShouldBe(21.50m);   // 11.50 + 10.00
        issued.Invoice.Tax.ShouldBe(3.87m);         // round(21.50 × 0.18)
        issued.Invoice.Total.ShouldBe(25.37m);
        issued.UsageCharged.ShouldBe(23.00m);
        settled.ShouldBe(new PeriodSettled("acme", "2026-10", "INV-2026-10-acme", new Money(2.37m, "INR"), Now));

        var after = Acme.Apply(issued).Apply(settled);
        after.IsClosed("2026-10").ShouldBeTrue();
        (after.StreamVersion, after.WalletVersion, after.Balance.Amount).ShouldBe((3L, 2L, -2.37m));
    }

    [Fact]
    public void A_period_without_usage_gets_a_zero_invoice_and_a_zero_settlement()
    {
        var (issued, settled) = PeriodCloseRules.Decide(Acme, "2026-10", [], new Dictionary<string, Plan> { ["starter"] = Starter }, "starter", Seller, Now);

        issued.Invoice.Lines.ShouldBeEmpty();
        issued.Invoice.Total.ShouldBe(0m);
        settled.Amount.Amount.ShouldBe(0m);
    }

    [Fact]
    public void Tax_follows_the_plan_the_customer_was_on_when_the_period_ended()
    {
        object[] events =
        [
            new CustomerRegistered("acme", "Acme", "starter", "INR", new Money(0m, "INR"), new Money(0m, "INR"), "UTC", Registered),
            new CustomerUpdated("acme", "Acme", "pro", new Money(0m, "INR"), new Money(0m, "INR"), new DateTimeOffset(2026, 10, 10, 0, 0, 0, TimeSpan.Zero)),
            new CustomerUpdated("acme", "Acme", "max", new Money(0m, "INR"), new Money(0m, "INR"), new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero)),
        ];

        PeriodCloseRules.PlanAt(events, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero)).ShouldBe("pro");
        PeriodCloseRules.PlanAt(events, new DateTimeOffset(2026, 9, 1, 0, 0, 0, TimeSpan.Zero)).ShouldBe("starter");
    }
}
