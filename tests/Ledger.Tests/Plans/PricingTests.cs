using System.Globalization;
using CsCheck;
using Ledger.Common;
using Ledger.Plans;

namespace Ledger.Tests.Plans;

/// <summary>
/// The four pricing models as pure arithmetic (no database): hand-computed tables at and around
/// the tier bounds, and properties that must hold for any plan and any way a quantity is split
/// into usage events.
/// </summary>
public class PricingTests
{
    // The starter plan of the contract, and a few plans with 6-decimal prices and more tiers.
    private static readonly Dictionary<string, MeterPrice> Prices = new()
    {
        ["flat 0.115"] = new(PricingModel.Flat, UnitPrice: 0.115m),
        ["flat 0.000001"] = new(PricingModel.Flat, UnitPrice: 0.000001m),
        ["graduated sms"] = new(PricingModel.Graduated, Tiers: [new(10000m, 0.20m), new(null, 0.15m)]),
        ["graduated 3 tiers"] = new(PricingModel.Graduated, Tiers: [new(100m, 1.00m), new(1000m, 0.115m), new(null, 0.000001m)]),
        ["volume mau"] = new(PricingModel.Volume, Tiers: [new(1000m, 1.00m), new(null, 0.80m)]),
        ["volume 3 tiers"] = new(PricingModel.Volume, Tiers: [new(10m, 0.115m), new(100m, 0.10m), new(null, 0.000001m)]),
        ["package email"] = new(PricingModel.Package, PackageSize: 1000m, PackagePrice: 5.00m),
        ["package 0.5 for 0.115"] = new(PricingModel.Package, PackageSize: 0.5m, PackagePrice: 0.115m),
    };

    private static decimal D(string text) => decimal.Parse(text, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static TheoryData<string, string, string> PeriodPrices => new()
    {
        // price, period quantity, expected price (unrounded), computed by hand
        { "flat 0.115", "0", "0" },
        { "flat 0.115", "1", "0.115" },
        { "flat 0.115", "3", "0.345" },                    // 3 × 0.115
        { "flat 0.115", "0.5", "0.0575" },
        { "flat 0.115", "10000", "1150" },
        { "flat 0.115", "0.000001", "0.000000115" },       // no rounding in the period price
        { "flat 0.000001", "1", "0.000001" },
        { "flat 0.000001", "1234567", "1.234567" },

        { "graduated sms", "0", "0" },
        { "graduated sms", "1", "0.20" },
        { "graduated sms", "9999", "1999.80" },
        { "graduated sms", "9999.5", "1999.90" },
        { "graduated sms", "10000", "2000.00" },           // exactly at the bound: all in tier 1
        { "graduated sms", "10000.5", "2000.075" },        // 2000 + 0.5 × 0.15
        { "graduated sms", "10001", "2000.15" },
        { "graduated sms", "25000", "4250.00" },           // 2000 + 15000 × 0.15
        { "graduated sms", "0.000001", "0.0000002" },
        { "graduated 3 tiers", "100", "100" },
        { "graduated 3 tiers", "100.5", "100.0575" },      // 100 + 0.5 × 0.115
        { "graduated 3 tiers", "1000", "203.5" },          // 100 + 900 × 0.115
        { "graduated 3 tiers", "2000", "203.501" },        // 203.5 + 1000 × 0.000001
        { "graduated 3 tiers", "1000000", "204.499" },     // 203.5 + 999000 × 0.000001

        { "volume mau", "0", "0" },
        { "volume mau", "1", "1.00" },
        { "volume mau", "999.999999", "999.999999" },
        { "volume mau", "1000", "1000.00" },               // exactly at the bound: tier 1 for all
        { "volume mau", "1000.5", "800.40" },              // 1000.5 × 0.80
        { "volume mau", "1001", "800.80" },
        { "volume mau", "5000", "4000.00" },
        { "volume 3 tiers", "10", "1.15" },
        { "volume 3 tiers", "10.5", "1.05" },
        { "volume 3 tiers", "100", "10.00" },
        { "volume 3 tiers", "101", "0.000101" },

        { "package email", "0", "0" },
        { "package email", "0.5", "5.00" },
        { "package email", "1", "5.00" },
        { "package email", "1000", "5.00" },               // exactly one package
        { "package email", "1000.000001", "10.00" },
        { "package email", "1001", "10.00" },
        { "package email", "2000", "10.00" },
        { "package email", "2500", "15.00" },
        { "package 0.5 for 0.115", "1.2", "0.345" },       // ceil(2.4) = 3 packages
        { "package 0.5 for 0.115", "1.5", "0.345" },
    };

    [Theory]
    [MemberData(nameof(PeriodPrices))]
    public void PeriodPrice_prices_the_whole_period_quantity(string price, string quantity, string expected)
    {
        Pricing.PeriodPrice(Prices[price], D(quantity)).ShouldBe(D(expected));
    }

    public static TheoryData<string, string, string, string> RealTimeCharges => new()
    {
        // price, units already in the period, the event's quantity, expected charge (6 decimals), by hand
        { "flat 0.115", "7", "3", "0.345" },
        { "flat 0.115", "0", "0.000001", "0" },                // 0.000000115 rounds to 0
        { "flat 0.115", "0.000004", "0.000001", "0.000001" },  // round6(0.000000575) − round6(0.00000046)
        { "graduated sms", "0", "10000", "2000.00" },
        { "graduated sms", "9999", "2", "0.35" },              // 1 × 0.20 + 1 × 0.15: crosses the bound inside the event
        { "graduated sms", "9990", "20", "3.50" },             // 10 × 0.20 + 10 × 0.15
        { "graduated sms", "9999.5", "1", "0.175" },           // 0.5 × 0.20 + 0.5 × 0.15
        { "graduated sms", "10000", "1", "0.15" },
        { "graduated 3 tiers", "50", "1000", "153.50005" },    // 50 × 1.00 + 900 × 0.115 + 50 × 0.000001
        { "volume mau", "0", "1001", "800.80" },
        { "volume mau", "999", "1", "1.00" },
        { "volume mau", "1000", "1", "-199.20" },              // 1001 × 0.80 − 1000 × 1.00: the period got cheaper
        { "volume mau", "500", "600", "380.00" },              // 880 − 500
        { "volume 3 tiers", "100", "1", "-9.999899" },         // 0.000101 − 10.00
        { "package email", "0", "1", "5.00" },                 // opens the first package
        { "package email", "1", "998", "0" },
        { "package email", "999", "1", "0" },                  // the 1000th unit still fits
        { "package email", "1000", "1", "5.00" },              // opens a second package
        { "package email", "999", "1002", "10.00" },           // 2001 units: 3 packages − 1
        { "package email", "1000", "0", "0" },
    };

    [Theory]
    [MemberData(nameof(RealTimeCharges))]
    public void RealTimeCharge_is_the_change_in_the_period_price(string price, string before, string quantity, string expected)
    {
        var charge = Pricing.RealTimeCharge(Prices[price], D(before), D(quantity));

        charge.ShouldBe(D(expected));
        (charge * 1_000_000m).ShouldBe(decimal.Truncate(charge * 1_000_000m), "a real-time charge is exact to 6 decimals");
    }

    [Fact]
    public void A_graduated_event_crossing_a_bound_is_split_between_the_tiers()
    {
        var tiers = Pricing.GraduatedTiers(Prices["graduated sms"], 9990m, 20m).ToList();

        tiers.ShouldBe([(0, 10m, 0.20m), (1, 10m, 0.15m)]);
        Pricing.GraduatedTiers(Prices["graduated sms"], 0m, 10000m).ShouldBe([(0, 10000m, 0.20m)]);
        Pricing.GraduatedTiers(Prices["graduated sms"], 10000m, 1m).ShouldBe([(1, 1m, 0.15m)]);
        Pricing.GraduatedTiers(Prices["graduated 3 tiers"], 50m, 1000m).ShouldBe([(0, 50m, 1.00m), (1, 900m, 0.115m), (2, 50m, 0.000001m)]);
        Pricing.GraduatedTiers(Prices["graduated sms"], 5m, 0m).ShouldBeEmpty();
    }

    // ---- properties -------------------------------------------------------------------------

    /// <summary>A unit price with up to 6 decimals, 0 to 10.</summary>
    private static readonly Gen<decimal> UnitPrice = Gen.Long[0, 10_000_000].Select(n => n / 1_000_000m);

    /// <summary>A usage quantity: often whole, sometimes with 6 decimals, small enough to cross bounds in a few parts.</summary>
    private static readonly Gen<decimal> Part = Gen.Frequency(
        (3, (IGen<decimal>)Gen.Long[0, 6_000].Select(n => (decimal)n)),
        (2, Gen.Long[0, 6_000_000_000].Select(n => n / 1_000_000m)),
        (1, Gen.Long[0, 10].Select(n => n / 1_000_000m)));

    private static readonly Gen<decimal[]> Split = Part.Array[1, 15];

    /// <summary>1 to 4 ascending tiers (bounds whole or with 6 decimals), the last one open.</summary>
    private static readonly Gen<IReadOnlyList<PriceTier>> Tiers = Gen.Select(
        Gen.Frequency(
            (2, (IGen<decimal>)Gen.Long[1, 15_000].Select(n => (decimal)n)),
            (1, Gen.Long[1, 15_000_000_000].Select(n => n / 1_000_000m))).Array[0, 3],
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
        Gen.Select(
            Gen.Frequency(
                (2, (IGen<decimal>)Gen.Long[1, 5_000].Select(n => (decimal)n)),
                (1, Gen.Long[1, 5_000_000_000].Select(n => n / 1_000_000m))),
            UnitPrice,
            (size, price) => new MeterPrice(PricingModel.Package, PackageSize: size, PackagePrice: price)));

    private static string Print(MeterPrice price) =>
        $"{price.Model} unit={price.UnitPrice} size={price.PackageSize} package={price.PackagePrice} tiers=[{string.Join(", ", (price.Tiers ?? []).Select(t => $"{t.UpTo?.ToString() ?? "null"}@{t.UnitPrice}"))}]";

    [Fact]
    public void Graduated_period_price_equals_the_tiers_of_its_parts_summed_in_order()
    {
        Gen.Select(Tiers, Split).Sample((tiers, parts) =>
        {
            var price = new MeterPrice(PricingModel.Graduated, Tiers: tiers);
            var before = 0m;
            var sum = 0m;
            foreach (var part in parts)
            {
                var inTiers = Pricing.GraduatedTiers(price, before, part).ToList();
                inTiers.Sum(t => t.Quantity).ShouldBe(part);
                inTiers.ShouldAllBe(t => t.Quantity > 0m);
                sum += inTiers.Sum(t => t.Quantity * t.UnitPrice);
                before += part;
            }

            Pricing.PeriodPrice(price, parts.Sum()).ShouldBe(sum);
        }, iter: 3_000, print: t => $"{Print(new MeterPrice(PricingModel.Graduated, Tiers: t.Item1))} parts=[{string.Join(", ", t.Item2)}]");
    }

    [Fact]
    public void Real_time_charges_over_any_split_add_up_to_the_rounded_period_price_for_every_model()
    {
        Gen.Select(AnyPrice, Split).Sample((price, parts) =>
        {
            var before = 0m;
            var charged = 0m;
            foreach (var part in parts)
            {
                var charge = Pricing.RealTimeCharge(price, before, part);
                (charge * 1_000_000m).ShouldBe(decimal.Truncate(charge * 1_000_000m), "exact to 6 decimals");
                if (price.Model != PricingModel.Volume) charge.ShouldBeGreaterThanOrEqualTo(0m, "only volume can get cheaper as the period grows");
                charged += charge;
                before += part;
            }

            charged.ShouldBe(Money.Round(Pricing.PeriodPrice(price, parts.Sum()), Money.LedgerScale));
        }, iter: 5_000, print: t => $"{Print(t.Item1)} parts=[{string.Join(", ", t.Item2)}]");
    }

    [Fact]
    public void Flat_and_graduated_period_prices_are_additive_and_volume_prices_all_units_at_one_tier()
    {
        Gen.Select(Tiers, Part, Part).Sample((tiers, a, b) =>
        {
            var graduated = new MeterPrice(PricingModel.Graduated, Tiers: tiers);
            var volume = new MeterPrice(PricingModel.Volume, Tiers: tiers);
            var total = a + b;

            // Graduated: the price of a + b is the price of a plus the tiers b falls in after a.
            Pricing.PeriodPrice(graduated, total)
                .ShouldBe(Pricing.PeriodPrice(graduated, a) + Pricing.GraduatedTiers(graduated, a, b).Sum(t => t.Quantity * t.UnitPrice));

            // Volume: every unit at the price of the first tier whose inclusive bound holds the total.
            var tier = tiers.First(t => t.UpTo is null || total <= t.UpTo.Value);
            Pricing.PeriodPrice(volume, total).ShouldBe(total * tier.UnitPrice);
        }, iter: 3_000);
    }
}
