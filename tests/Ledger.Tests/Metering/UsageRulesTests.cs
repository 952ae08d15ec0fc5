using Ledger.Accounts;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering.Ingestion;
using Ledger.Plans;

namespace Ledger.Tests.Metering;

/// <summary>The usage decisions as pure functions of the locked account and running totals.</summary>
public class UsageRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static readonly MeterPrice Graduated = new(PricingModel.Graduated, Tiers: [new PriceTier(10m, 0.20m), new PriceTier(null, 0.15m)]);

    private static Account WithClosed(params string[] periods) =>
        Account.Open(new CustomerRegistered("acme", "Acme", "starter", "INR", new Money(0m, "INR"), new Money(0m, "INR"), "UTC", Now.AddYears(-1)))
            with { ClosedPeriods = periods };

    private static UsageToRecord Usage(string period, decimal quantity = 1m, string meter = "otp.sms") =>
        new("acme", "e-" + Guid.NewGuid().ToString("N")[..6], meter, quantity, Now, new Dictionary<string, string>(), period, "starter", 1, Graduated, "INR", false);

    [Theory]
    [InlineData("2026-11", "", "2026-11", false)]
    [InlineData("2026-10", "", "2026-10", false)]                  // back-dated into an open period: not late
    [InlineData("2026-10", "2026-10", "2026-11", true)]           // its period closed: the next one
    [InlineData("2026-09", "2026-09,2026-10", "2026-11", true)]   // several closed in a row
    [InlineData("2026-09", "2026-10", "2026-09", false)]          // a later close does not matter
    [InlineData("2026-08", "2026-08,2026-10", "2026-09", true)]   // the first open period after it, even if a later one is closed
    public void Usage_is_billed_in_its_own_period_or_the_first_open_one_after_it(string period, string closed, string billed, bool late)
    {
        var decided = UsageRules.Bill(Usage(period), WithClosed(closed.Split(',', StringSplitOptions.RemoveEmptyEntries)));

        (decided.Period, decided.Late).ShouldBe((billed, late));
    }

    [Fact]
    public void Graduated_charges_follow_the_running_total_in_recorded_order_per_period()
    {
        var usage = new[] { Usage("2026-11", 4m), Usage("2026-11", 4m), Usage("2026-10", 3m), Usage("2026-11", 4m) };
        var before = new Dictionary<(string, string, string), decimal> { [("acme", "otp.sms", "2026-11")] = 1m };

        var charges = UsageRules.Rate(usage, before);

        // Nov: 1 before; 2–5 at 0.20, 6–9 at 0.20, 10 at 0.20 then 11–13 at 0.15. Oct starts at 0.
        charges.ShouldBe([0.80m, 0.80m, 0.60m, 0.20m + 0.45m]);
        UsageRules.Quantities(usage)[("acme", "otp.sms", "2026-11")].ShouldBe(12m);
    }
}
