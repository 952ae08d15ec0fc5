using System.Globalization;
using CsCheck;
using Ledger.Common;
using Ledger.Invoicing;
using Ledger.Plans;

namespace Ledger.Tests.Invoicing;

/// <summary>
/// Invoice lines and totals without a database: a table of periods priced by hand (the arithmetic
/// is in the comments), and the property that ties the invoice to real-time rating.
/// </summary>
public class InvoiceCalculatorTests
{
    private static readonly DateTimeOffset PeriodStart = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset PeriodEnd = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset MidPeriod = new(2026, 10, 15, 0, 0, 0, TimeSpan.Zero);

    // The starter plan of the contract (version 1, tax 18%).
    private static readonly IReadOnlyDictionary<string, MeterPrice> Starter = new Dictionary<string, MeterPrice>
    {
        ["otp.sms"] = new(PricingModel.Graduated, Tiers: [new(10000m, 0.20m), new(null, 0.15m)]),
        ["otp.whatsapp"] = new(PricingModel.Flat, UnitPrice: 0.115m),
        ["otp.email"] = new(PricingModel.Package, PackageSize: 1000m, PackagePrice: 5.00m),
        ["mau"] = new(PricingModel.Volume, Tiers: [new(1000m, 1.00m), new(null, 0.80m)]),
    };

    // Version 2, in force from the middle of the period: cheaper prices, tax 20%.
    private static readonly IReadOnlyDictionary<string, MeterPrice> StarterV2 = new Dictionary<string, MeterPrice>
    {
        ["otp.sms"] = new(PricingModel.Graduated, Tiers: [new(10000m, 0.18m), new(null, 0.12m)]),
        ["otp.whatsapp"] = new(PricingModel.Flat, UnitPrice: 0.125m),
        ["otp.email"] = new(PricingModel.Package, PackageSize: 1000m, PackagePrice: 4.00m),
        ["mau"] = new(PricingModel.Volume, Tiers: [new(1000m, 0.90m), new(null, 0.70m)]),
    };

    private static readonly Plan StarterPlan = new("plan:starter", "starter", "INR",
    [
        new PlanVersion(1, 0.18m, Starter, PeriodStart.AddMonths(-3), PeriodStart.AddMonths(-3)),
    ]);

    private static readonly Plan ChangedMidPeriod = StarterPlan with
    {
        Versions = [.. StarterPlan.Versions, new PlanVersion(2, 0.20m, StarterV2, MidPeriod, MidPeriod)],
    };

    private static BillableUsage Use(string meter, decimal quantity, int version = 1) => new(meter, quantity, version, Late: false);

    private static BillableUsage Late(string meter, decimal quantity, int version = 1) => new(meter, quantity, version, Late: true);

    /// <summary>A line as the table writes it: description | quantity | unit price | amount | late.</summary>
    private static string Row(InvoiceLine line) =>
        string.Join(" | ",
            line.Description,
            line.Quantity.ToString("0.######", CultureInfo.InvariantCulture),
            line.UnitPrice?.ToString("0.00####", CultureInfo.InvariantCulture) ?? "-",
            Money.Format(line.Amount, 2),
            line.Late ? "late" : "on time");

    private sealed record Scenario(Plan Plan, BillableUsage[] Usage, string[] Lines, string Subtotal, string Tax, string Total);

    private static readonly Dictionary<string, Scenario> Scenarios = new()
    {
        ["no usage: no lines, zero totals"] = new(StarterPlan, [], [], "0.00", "0.00", "0.00"),

        ["flat: 6-decimal price rounded once, at line level"] = new(StarterPlan,
            [.. Enumerable.Repeat(Use("otp.whatsapp", 1), 7)],
            [
                "otp.whatsapp | 7 | 0.115 | 0.81 | on time", // 7 × 0.115 = 0.805 → 0.81 (rounding each event, 7 × 0.12 = 0.84, would overcharge)
            ],
            "0.81", "0.15", "0.96"),                    // tax 0.81 × 0.18 = 0.1458 → 0.15; total 0.81 + 0.15

        ["rounding at .005 is half away from zero, for lines and for tax"] = new(StarterPlan,
            [Use("otp.whatsapp", 3), Use("otp.sms", 4.5m)],
            [
                "otp.sms 1–10,000 | 4.5 | 0.20 | 0.90 | on time",    // 4.5 × 0.20 = 0.90
                "otp.whatsapp | 3 | 0.115 | 0.35 | on time",        // 3 × 0.115 = 0.345 → 0.35 (banker's rounding would give 0.34)
            ],
            "1.25", "0.23", "1.48"),                    // tax 1.25 × 0.18 = 0.225 → 0.23 (banker's: 0.22); total 1.25 + 0.23

        ["graduated: exactly 10,000 sms stay in the first tier"] = new(StarterPlan,
            [Use("otp.sms", 6000), Use("otp.sms", 4000)],
            [
                "otp.sms 1–10,000 | 10000 | 0.20 | 2000.00 | on time", // 10,000 × 0.20; no line for the empty second tier
            ],
            "2000.00", "360.00", "2360.00"),            // tax 2000 × 0.18

        ["graduated: one event crossing the bound is split between the tiers"] = new(StarterPlan,
            [Use("otp.sms", 9999), Use("otp.sms", 2)],
            [
                "otp.sms 1–10,000 | 10000 | 0.20 | 2000.00 | on time", // 9,999 + the first unit of the second event
                "otp.sms 10,001+ | 1 | 0.15 | 0.15 | on time",        // its second unit: unit 10,001
            ],
            "2000.15", "360.03", "2360.18"),            // tax 2000.15 × 0.18 = 360.027 → 360.03

        ["volume: exactly 1,000 is priced at the first tier"] = new(StarterPlan,
            [Use("mau", 400), Use("mau", 600)],
            [
                "mau (volume tier 1–1,000) | 1000 | 1.00 | 1000.00 | on time", // 1,000 × 1.00
            ],
            "1000.00", "180.00", "1180.00"),

        ["volume: 1,001 puts every unit in the second tier"] = new(StarterPlan,
            [Use("mau", 1000), Use("mau", 1)],
            [
                "mau (volume tier 1,001+) | 1001 | 0.80 | 800.80 | on time", // 1,001 × 0.80
            ],
            "800.80", "144.14", "944.94"),              // tax 800.80 × 0.18 = 144.144 → 144.14

        ["package: units rounded up to whole packages"] = new(StarterPlan,
            [Use("otp.email", 2000), Use("otp.email", 1)],
            [
                "otp.email (3 packages of 1,000) | 2001 | - | 15.00 | on time", // ceil(2,001 / 1,000) = 3 × 5.00
            ],
            "15.00", "2.70", "17.70"),

        ["package: exactly one package"] = new(StarterPlan,
            [Use("otp.email", 1000)],
            [
                "otp.email (1 package of 1,000) | 1000 | - | 5.00 | on time",
            ],
            "5.00", "0.90", "5.90"),

        ["every model, lines ordered by meter name"] = new(StarterPlan,
            [Use("otp.whatsapp", 7), Use("otp.sms", 12500), Use("otp.email", 2500), Use("mau", 1200)],
            [
                "mau (volume tier 1,001+) | 1200 | 0.80 | 960.00 | on time",          // 1,200 × 0.80
                "otp.email (3 packages of 1,000) | 2500 | - | 15.00 | on time",       // ceil(2.5) = 3 × 5.00
                "otp.sms 1–10,000 | 10000 | 0.20 | 2000.00 | on time",               // 10,000 × 0.20
                "otp.sms 10,001+ | 2500 | 0.15 | 375.00 | on time",                  // 2,500 × 0.15
                "otp.whatsapp | 7 | 0.115 | 0.81 | on time",                         // 0.805 → 0.81
            ],
            "3350.81", "603.15", "3953.96"),            // 960 + 15 + 2000 + 375 + 0.81; tax × 0.18 = 603.1458 → 603.15

        ["late usage: own lines, and the running count goes on through it in recorded order"] = new(StarterPlan,
            [Use("otp.sms", 9000), Late("otp.sms", 2000), Use("otp.sms", 500), Late("otp.whatsapp", 1)],
            [
                "otp.sms 1–10,000 | 9000 | 0.20 | 1800.00 | on time",                    // units 1–9,000
                "otp.sms 10,001+ | 500 | 0.15 | 75.00 | on time",                        // units 11,001–11,500 (recorded after the late ones)
                "Late usage — otp.sms 1–10,000 | 1000 | 0.20 | 200.00 | late",           // units 9,001–10,000
                "Late usage — otp.sms 10,001+ | 1000 | 0.15 | 150.00 | late",            // units 10,001–11,000
                "Late usage — otp.whatsapp | 1 | 0.115 | 0.12 | late",                   // 0.115 → 0.12
            ],
            "2225.12", "400.52", "2625.64"),            // 1800 + 75 + 200 + 150 + 0.12; tax × 0.18 = 400.5216 → 400.52

        ["late usage: volume tier from the period total including late units"] = new(StarterPlan,
            [Use("mau", 900), Late("mau", 200)],
            [
                "mau (volume tier 1,001+) | 900 | 0.80 | 720.00 | on time",              // total 1,100 → 0.80; 900 × 0.80
                "Late usage — mau (volume tier 1,001+) | 200 | 0.80 | 160.00 | late",    // 200 × 0.80
            ],
            "880.00", "158.40", "1038.40"),

        ["plan change mid-period: each version prices its own units, tax of the version in force at the end"] = new(ChangedMidPeriod,
            [
                Use("otp.sms", 8000), Use("mau", 600), Use("otp.whatsapp", 10),
                Use("otp.sms", 3000, version: 2), Use("otp.whatsapp", 10, version: 2), Use("mau", 500, version: 2),
            ],
            [
                "mau (volume tier 1,001+; plan v1) | 600 | 0.80 | 480.00 | on time",     // total 1,100 → tier 2; v1 price 0.80 × 600
                "mau (volume tier 1,001+; plan v2) | 500 | 0.70 | 350.00 | on time",     // v2 price 0.70 × 500
                "otp.sms 1–10,000 (plan v1) | 8000 | 0.20 | 1600.00 | on time",          // units 1–8,000 at v1
                "otp.sms 1–10,000 (plan v2) | 2000 | 0.18 | 360.00 | on time",           // units 8,001–10,000 at v2: the count goes on
                "otp.sms 10,001+ (plan v2) | 1000 | 0.12 | 120.00 | on time",            // units 10,001–11,000 at v2
                "otp.whatsapp (plan v1) | 10 | 0.115 | 1.15 | on time",                  // 10 × 0.115
                "otp.whatsapp (plan v2) | 10 | 0.125 | 1.25 | on time",                  // 10 × 0.125
            ],
            "2912.40", "582.48", "3494.88"),            // 480 + 350 + 1600 + 360 + 120 + 1.15 + 1.25; tax × 0.20 (v2)

        ["zero quantities make no line"] = new(StarterPlan,
            [Use("otp.whatsapp", 0), Use("otp.email", 0), Use("mau", 0), Use("otp.sms", 0)],
            [], "0.00", "0.00", "0.00"),
    };

    public static TheoryData<string> ScenarioNames => new(Scenarios.Keys);

    [Theory]
    [MemberData(nameof(ScenarioNames))]
    public void A_period_is_invoiced_as_computed_by_hand(string name)
    {
        var scenario = Scenarios[name];

        var invoice = InvoiceCalculator.Compute(scenario.Usage, scenario.Plan, "INR", PeriodEnd);

        invoice.Lines.Select(Row).ToArray().ShouldBe(scenario.Lines);
        Money.Format(invoice.Subtotal, 2).ShouldBe(scenario.Subtotal);
        Money.Format(invoice.Tax, 2).ShouldBe(scenario.Tax);
        Money.Format(invoice.Total, 2).ShouldBe(scenario.Total);
        invoice.Subtotal.ShouldBe(invoice.Lines.Sum(l => l.Amount));
        invoice.Total.ShouldBe(invoice.Subtotal + invoice.Tax);
        invoice.Lines.ShouldAllBe(l => l.Amount == Money.Round(l.Amount, 2));
    }

    [Fact]
    public void The_tax_rate_is_the_one_in_force_just_before_the_period_ends()
    {
        var changedAtTheEnd = StarterPlan with
        {
            Versions = [.. StarterPlan.Versions, new PlanVersion(2, 0.20m, StarterV2, PeriodEnd, PeriodEnd)],
        };

        InvoiceCalculator.Compute([Use("mau", 10)], changedAtTheEnd, "INR", PeriodEnd).TaxRate.ShouldBe(0.18m);
        InvoiceCalculator.Compute([Use("mau", 10)], ChangedMidPeriod, "INR", PeriodEnd).TaxRate.ShouldBe(0.20m);
    }

    [Fact]
    public void Amounts_are_rounded_to_the_minor_unit_of_the_currency()
    {
        var yen = new Plan("plan:yen", "yen", "JPY",
        [
            new PlanVersion(1, 0.10m, new Dictionary<string, MeterPrice> { ["otp.sms"] = new(PricingModel.Flat, UnitPrice: 1.5m) },
                PeriodStart, PeriodStart),
        ]);

        var invoice = InvoiceCalculator.Compute([Use("otp.sms", 3)], yen, "JPY", PeriodEnd);

        invoice.Lines.Single().Amount.ShouldBe(5m);       // 3 × 1.5 = 4.5 → 5 yen
        invoice.Tax.ShouldBe(1m);                         // 5 × 0.10 = 0.5 → 1
        invoice.Total.ShouldBe(6m);
    }

    [Fact]
    public void Usage_priced_by_a_version_the_plan_does_not_have_is_refused()
    {
        Should.Throw<InvalidOperationException>(() => InvoiceCalculator.Compute([Use("otp.sms", 1, version: 7)], StarterPlan, "INR", PeriodEnd));
        Should.Throw<InvalidOperationException>(() => InvoiceCalculator.Compute([Use("otp.voice", 1)], StarterPlan, "INR", PeriodEnd));
    }

    // ---- consistency with real-time rating ----------------------------------------------------

    private static readonly Gen<decimal> UnitPrice = Gen.Long[0, 10_000_000].Select(n => n / 1_000_000m);

    /// <summary>A usage quantity: often whole, sometimes with 6 decimals.</summary>
    private static readonly Gen<decimal> Part = Gen.Frequency(
        (3, (IGen<decimal>)Gen.Long[0, 6_000].Select(n => (decimal)n)),
        (1, Gen.Long[0, 6_000_000_000].Select(n => n / 1_000_000m)));

    /// <summary>1 to 4 ascending tiers, the last one open.</summary>
    private static readonly Gen<IReadOnlyList<PriceTier>> Tiers = Gen.Select(
        Gen.Long[1, 15_000].Select(n => (decimal)n).Array[0, 3],
        UnitPrice.Array[4],
        (gaps, prices) =>
        {
            var tiers = new List<PriceTier>();
            var bound = 0m;
            for (var i = 0; i < gaps.Length; i++)
            {
                bound += gaps[i];
                tiers.Add(new PriceTier(bound, prices[i]));
            }

            tiers.Add(new PriceTier(null, prices[gaps.Length]));
            return (IReadOnlyList<PriceTier>)tiers;
        });

    private static readonly Gen<MeterPrice> AnyPrice = Gen.OneOf(
        UnitPrice.Select(p => new MeterPrice(PricingModel.Flat, UnitPrice: p)),
        Tiers.Select(t => new MeterPrice(PricingModel.Graduated, Tiers: t)),
        Tiers.Select(t => new MeterPrice(PricingModel.Volume, Tiers: t)),
        Gen.Select(Gen.Long[1, 5_000].Select(n => (decimal)n), UnitPrice,
            (size, price) => new MeterPrice(PricingModel.Package, PackageSize: size, PackagePrice: price)));

    /// <summary>
    /// For one plan version and no late usage, the invoice's lines before rounding add up to the
    /// period price of each meter's total — the amount real-time rating charges over the period
    /// (to the ledger scale) — however the usage was split into events.
    /// </summary>
    [Fact]
    public void Unrounded_lines_sum_to_the_period_price_that_real_time_rating_charges()
    {
        Gen.Select(AnyPrice, AnyPrice, Part.Array[1, 12], Part.Array[0, 12]).Sample((smsPrice, mauPrice, sms, mau) =>
        {
            var plan = new Plan("plan:p", "p", "INR",
                [new PlanVersion(1, 0.18m, new Dictionary<string, MeterPrice> { ["sms"] = smsPrice, ["mau"] = mauPrice }, PeriodStart, PeriodStart)]);
            var usage = sms.Select(q => Use("sms", q)).Concat(mau.Select(q => Use("mau", q))).ToArray();

            var lines = InvoiceCalculator.PriceLines(usage, plan);

            foreach (var (meter, price, parts) in new[] { ("sms", smsPrice, sms), ("mau", mauPrice, mau) })
            {
                var periodPrice = Pricing.PeriodPrice(price, parts.Sum());
                lines.Where(l => l.Meter == meter).Sum(l => l.ExactAmount).ShouldBe(periodPrice);

                var before = 0m;
                var charged = 0m;
                foreach (var part in parts)
                {
                    charged += Pricing.RealTimeCharge(price, before, part);
                    before += part;
                }

                charged.ShouldBe(Money.Round(periodPrice, Money.LedgerScale));
            }

            var invoice = InvoiceCalculator.Compute(usage, plan, "INR", PeriodEnd);
            invoice.Lines.Select(l => l.Amount).ShouldBe(lines.Select(l => Money.Round(l.ExactAmount, 2)));
        }, iter: 2_000);
    }
}
