using Ledger.Common;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Metering;

/// <summary>
/// The wallet after usage equals the top-up minus charges computed by hand from the starter plan
/// (otp.sms graduated 0.20 up to 10,000 then 0.15; otp.whatsapp flat 0.115; otp.email package
/// 1,000 for 5.00; mau volume 1.00 up to 1,000 then 0.80), in the order the events were recorded.
/// </summary>
[Collection(LedgerCollection.Name)]
public class UsageBalanceTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();
    private readonly HttpClient _meter = app.Client("usage:write", subject: "metering-client");

    [Fact]
    public async Task The_balance_after_usage_equals_the_top_up_minus_hand_computed_charges()
    {
        var c = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(c, "5000.00");
        const string at = "2026-11-10T10:00:00Z";

        // Batch A (running totals before → after):
        //   sms 9,990          0 → 9,990    9,990 × 0.20                      = 1,998.00
        //   whatsapp 3                      3 × 0.115                         =     0.345
        //   email 1            0 → 1        opens package 1                   =     5.00
        //   mau 999            0 → 999      999 × 1.00                        =   999.00
        //                                                             batch A = 3,002.345
        var a = await _meter.RecordUsageAsync(Batch(
            Event("a-1", c, "otp.sms", "9990", at),
            Event("a-2", c, "otp.whatsapp", "3", at),
            Event("a-3", c, "otp.email", "1", at),
            Event("a-4", c, "mau", "999", at)));
        a.ShouldBe((4, 0));
        var afterA = await _admin.WalletAsync(c);
        var betweenBatches = DateTimeOffset.UtcNow;
        await Task.Delay(50);

        // Batch B (the sms bound is crossed inside event b-2, and inside the batch):
        //   sms 5          9,990 → 9,995    5 × 0.20                          =     1.00
        //   sms 10         9,995 → 10,005   5 × 0.20 + 5 × 0.15               =     1.75
        //   sms 3         10,005 → 10,008   3 × 0.15                          =     0.45
        //   whatsapp 2.5                    2.5 × 0.115                       =     0.2875
        //   email 999          1 → 1,000    still package 1                   =     0.00
        //   email 1        1,000 → 1,001    opens package 2                   =     5.00
        //   mau 2            999 → 1,001    1,001 × 0.80 − 999 × 1.00         =  −198.20
        //                                                             batch B =  −189.7125
        var b = await _meter.RecordUsageAsync(Batch(
            Event("b-1", c, "otp.sms", "5", at),
            Event("b-2", c, "otp.sms", "10", at),
            Event("b-3", c, "otp.sms", "3", at),
            Event("b-4", c, "otp.whatsapp", "2.5", at),
            Event("b-5", c, "otp.email", "999", at),
            Event("b-6", c, "otp.email", "1", at),
            Event("b-7", c, "mau", "2", at)));
        b.ShouldBe((7, 0));
        var afterB = DateTimeOffset.UtcNow;

        // Cross-check by period prices: sms 10,008 → 2,000 + 8 × 0.15 = 2,001.20; whatsapp 5.5 × 0.115 = 0.6325;
        // email 2,000 → 2 packages = 10.00; mau 1,001 → 800.80; total 2,812.6325 = 3,002.345 − 189.7125.
        afterA.Str("balance").ShouldBe("1997.655000");          // 5,000 − 3,002.345
        afterA.Version().ShouldBe(2 + 4);
        var wallet = await _admin.WalletAsync(c);
        wallet.Str("balance").ShouldBe("2187.367500");          // 5,000 − 2,812.6325
        wallet.Str("available").ShouldBe("2187.367500");
        wallet.Str("status").ShouldBe("active");
        wallet.Version().ShouldBe(2 + 4 + 7);

        var charges = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId, u => u.Amount.Amount);
        charges.ShouldBe(new Dictionary<string, decimal>
        {
            ["a-1"] = 1998.00m, ["a-2"] = 0.345m, ["a-3"] = 5.00m, ["a-4"] = 999.00m,
            ["b-1"] = 1.00m, ["b-2"] = 1.75m, ["b-3"] = 0.45m, ["b-4"] = 0.2875m, ["b-5"] = 0m, ["b-6"] = 5.00m, ["b-7"] = -198.20m,
        }, ignoreOrder: true);

        // The wallet as of an instant folds the events recorded up to it.
        var asOfNow = await _admin.WalletAsync(c, Timestamps.Format(afterB));
        asOfNow.Str("balance").ShouldBe(wallet.Str("balance"));
        asOfNow.Str("status").ShouldBe(wallet.Str("status"));
        asOfNow.Version().ShouldBe(wallet.Version());
        var asOfBetween = await _admin.WalletAsync(c, Timestamps.Format(betweenBatches));
        asOfBetween.Str("balance").ShouldBe("1997.655000");
        asOfBetween.Version().ShouldBe(2 + 4);
    }

    [Fact]
    public async Task Landing_exactly_on_the_bound_then_crossing_it_in_later_events()
    {
        var c = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(c, "3000.00");
        const string at = "2026-11-10T10:00:00Z";

        //   sms 10,000    0 → 10,000       10,000 × 0.20  = 2,000.00   (exactly at the inclusive bound)
        //   sms 1    10,000 → 10,001       1 × 0.15       =     0.15
        //   sms 0.5  10,001 → 10,001.5     0.5 × 0.15     =     0.075
        //                                                   2,000.225  → 3,000 − 2,000.225 = 999.775
        (await _meter.RecordUsageAsync(Batch(Event("x-1", c, "otp.sms", "10000", at)))).ShouldBe((1, 0));
        (await _meter.RecordUsageAsync(Batch(Event("x-2", c, "otp.sms", "1", at), Event("x-3", c, "otp.sms", "0.5", at)))).ShouldBe((2, 0));

        var wallet = await _admin.WalletAsync(c);
        wallet.Str("balance").ShouldBe("999.775000");
        wallet.Version().ShouldBe(5);
    }

    [Fact]
    public async Task Graduated_tiers_restart_with_each_billing_period_of_the_customers_time_zone()
    {
        var c = await _admin.NewCustomerAsync();   // billing time zone Asia/Kolkata (UTC+05:30)
        await _admin.TopUpAsync(c, "3000.00");

        // Both instants are in October in UTC, but the second is 1 November 00:30 in Kolkata: a new period.
        //   sms 9,000 at 2026-10-31T17:00Z (period 2026-10)   9,000 × 0.20 = 1,800.00
        //   sms 2,000 at 2026-10-31T19:00Z (period 2026-11)   2,000 × 0.20 =   400.00   (not 1,000 × 0.20 + 1,000 × 0.15)
        //                                                                     2,200.00 → 3,000 − 2,200 = 800.00
        (await _meter.RecordUsageAsync(Batch(
            Event("p-1", c, "otp.sms", "9000", "2026-10-31T17:00:00Z"),
            Event("p-2", c, "otp.sms", "2000", "2026-10-31T19:00:00Z")))).ShouldBe((2, 0));

        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("800.000000");
        var stored = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["p-1"].Period.ShouldBe("2026-10");
        stored["p-2"].Period.ShouldBe("2026-11");
    }

    [Fact]
    public async Task Fractional_flat_usage_is_rated_exactly_to_six_decimals()
    {
        var c = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(c, "10.00");
        const string at = "2026-11-10T10:00:00Z";

        // whatsapp, running total before → after, charge = round6(after × 0.115) − round6(before × 0.115):
        //   0.000004   0 → 0.000004          round6(0.00000046)  − 0         = 0
        //   0.000001   0.000004 → 0.000005   round6(0.000000575) − 0         = 0.000001
        //   1.333333   0.000005 → 1.333338   round6(0.15333387)  − 0.000001  = 0.153333
        //                                                                      0.153334 → 10 − 0.153334 = 9.846666
        (await _meter.RecordUsageAsync(Batch(
            Event("f-1", c, "otp.whatsapp", "0.000004", at),
            Event("f-2", c, "otp.whatsapp", "0.000001", at),
            Event("f-3", c, "otp.whatsapp", "1.333333", at)))).ShouldBe((3, 0));

        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("9.846666");
        var charges = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId, u => u.Amount.Amount);
        charges["f-1"].ShouldBe(0m);
        charges["f-2"].ShouldBe(0.000001m);
        charges["f-3"].ShouldBe(0.153333m);
    }
}
