using System.Net;
using System.Text.Json.Nodes;
using Ledger.Common;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>
/// Closing a billing period over real HTTP: the invoice a customer gets for every pricing model
/// (hand-computed), the settlement against the wallet, idempotent closes, empty periods, and the
/// one close of every customer. Usage is back-dated into 2026-10 and earlier, periods that have
/// ended; each test closes only its own customers (<c>?customerId=</c>) except the last one.
/// </summary>
[Collection(LedgerCollection.Name)]
public class PeriodCloseTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();
    private readonly HttpClient _meter = app.Client("usage:write", subject: "metering-client");
    private readonly HttpClient _billing = app.Client("billing:write", subject: "finance-bot");
    private readonly HttpClient _finance = app.Client("finance:read");

    [Fact]
    public async Task The_invoice_of_a_period_with_every_pricing_model_equals_the_hand_computed_document()
    {
        var c = await _admin.NewCustomerInZoneAsync("Asia/Kolkata");
        await _admin.TopUpAsync(c, "5000.00");

        // October 2026 in Kolkata is [2026-09-30T18:30Z, 2026-10-31T18:30Z). Real-time debits, in recorded order:
        //   otp.sms (graduated)     6,000 → 6,000 × 0.20                               = 1,200.00
        //                           4,500 → 4,000 × 0.20 + 500 × 0.15 (crosses 10,000) =   875.00
        //                             500 → 500 × 0.15                                  =    75.00
        //   otp.whatsapp (flat)         3 → 3 × 0.115                                   =     0.345
        //                               4 → 4 × 0.115                                   =     0.46
        //   otp.email (package)     1,000 → package 1                                   =     5.00
        //                           1,001 → packages 2 and 3                            =    10.00
        //   mau (volume)              600 → 600 × 1.00                                  =   600.00
        //                             600 → 1,200 × 0.80 − 600 × 1.00                   =   360.00
        //                                                                     Σ debits  = 3,125.805
        (await _meter.RecordUsageAsync(Batch(
            Event("o-1", c, "otp.sms", "6000", "2026-10-05T10:00:00Z"),
            Event("o-2", c, "otp.sms", "4500", "2026-10-12T10:00:00Z"),
            Event("o-3", c, "otp.sms", "500", "2026-10-20T10:00:00Z"),
            Event("o-4", c, "otp.whatsapp", "3", "2026-10-06T10:00:00Z"),
            Event("o-5", c, "otp.whatsapp", "4", "2026-10-25T10:00:00Z"),
            Event("o-6", c, "otp.email", "1000", "2026-10-07T10:00:00Z"),
            Event("o-7", c, "otp.email", "1001", "2026-10-26T10:00:00Z"),
            Event("o-8", c, "mau", "600", "2026-09-30T18:30:00Z"),          // the first instant of October in Kolkata
            Event("o-9", c, "mau", "600", "2026-10-31T18:29:59Z")))).ShouldBe((9, 0));   // the last second of it
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("1874.195000");   // 5,000 − 3,125.805

        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var close = await _billing.CloseForAsync("2026-10", c);
        close.ToJsonString().ShouldBe($$"""{"period":"2026-10","invoices":["INV-2026-10-{{c}}"]}""");

        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");
        var issuedAt = invoice.Str("issuedAt");
        Timestamps.TryParse(issuedAt, out var issued).ShouldBeTrue(issuedAt);
        issued.ShouldBeInRange(before, DateTimeOffset.UtcNow.AddSeconds(1));
        invoice.Str("pdfSha256").ShouldMatch("^[0-9a-f]{64}$");

        // Lines: meters in ordinal order; each amount rounded once to 2 decimals, half away from zero.
        //   mau        1,200 units: the total falls in tier 1,001+ → 1,200 × 0.80 = 960.00
        //   otp.email  2,001 units: ceil(2,001 / 1,000) = 3 packages × 5.00   =  15.00
        //   otp.sms   10,000 units in 1–10,000 × 0.20                          = 2,000.00
        //              1,000 units in 10,001+  × 0.15                          =  150.00
        //   otp.whatsapp   7 units × 0.115 = 0.805                             →    0.81
        // subtotal = 960.00 + 15.00 + 2,000.00 + 150.00 + 0.81                 = 3,125.81
        // tax      = 3,125.81 × 0.18 = 562.6458                                →  562.65
        // total    = 3,125.81 + 562.65                                         = 3,688.46
        // settlement = 3,688.46 − 3,125.805 (Σ real-time debits)               =  562.655
        var expected = JsonNode.Parse($$"""
            {
              "id": "INV-2026-10-{{c}}", "customerId": "{{c}}", "period": "2026-10", "currency": "INR",
              "issuedAt": "{{issuedAt}}",
              "periodStart": "2026-09-30T18:30:00Z", "periodEnd": "2026-10-31T18:30:00Z", "billingTimeZone": "Asia/Kolkata",
              "lines": [
                { "meter": "mau", "description": "mau (volume tier 1,001+)", "quantity": "1200", "unitPrice": "0.80", "amount": "960.00", "late": false },
                { "meter": "otp.email", "description": "otp.email (3 packages of 1,000)", "quantity": "2001", "unitPrice": null, "amount": "15.00", "late": false },
                { "meter": "otp.sms", "description": "otp.sms 1–10,000", "quantity": "10000", "unitPrice": "0.20", "amount": "2000.00", "late": false },
                { "meter": "otp.sms", "description": "otp.sms 10,001+", "quantity": "1000", "unitPrice": "0.15", "amount": "150.00", "late": false },
                { "meter": "otp.whatsapp", "description": "otp.whatsapp", "quantity": "7", "unitPrice": "0.115", "amount": "0.81", "late": false }
              ],
              "subtotal": "3125.81", "taxRate": "0.18", "tax": "562.65", "total": "3688.46",
              "usageCharged": "3125.805000", "settlement": "562.655000",
              "pdfSha256": "{{invoice.Str("pdfSha256")}}"
            }
            """);
        JsonNode.DeepEquals(invoice, expected).ShouldBeTrue($"actual:   {invoice.ToJsonString()}\nexpected: {expected!.ToJsonString()}");

        // The wallet has paid exactly the invoice total: 5,000.00 − 3,688.46.
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("1311.540000");
    }

    [Fact]
    public async Task After_a_close_the_real_time_debits_plus_the_settlement_equal_the_invoice_total_and_the_wallet_paid_exactly_the_total()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.TopUpAsync(c, "3000.00");
        await _admin.TopUpAsync(c, "1000.00");

        // Real-time debits (exact to 6 decimals, in recorded order):
        //   sms 9,999                 9,999 × 0.20                         = 1,999.80
        //   sms 4     (crosses 10,000) 1 × 0.20 + 3 × 0.15                 =     0.65
        //   whatsapp 1, 1, 1          0.115 each                           =     0.345
        //   mau 1,000                 1,000 × 1.00                         = 1,000.00
        //   mau 1     (total 1,001 → tier 0.80) 1,001 × 0.80 − 1,000.00    =  −199.20   (a volume estimate trued up in real time)
        //                                                         Σ debits = 2,801.595
        (await _meter.RecordUsageAsync(Batch(
            Event("s-1", c, "otp.sms", "9999", "2026-10-02T08:00:00Z"),
            Event("s-2", c, "otp.whatsapp", "1", "2026-10-03T08:00:00Z"),
            Event("s-3", c, "mau", "1000", "2026-10-04T08:00:00Z")))).ShouldBe((3, 0));
        (await _meter.RecordUsageAsync(Batch(
            Event("s-4", c, "otp.sms", "4", "2026-10-05T08:00:00Z"),
            Event("s-5", c, "otp.whatsapp", "1", "2026-10-06T08:00:00Z"),
            Event("s-6", c, "otp.whatsapp", "1", "2026-10-07T08:00:00Z"),
            Event("s-7", c, "mau", "1", "2026-10-31T23:59:59Z")))).ShouldBe((4, 0));

        var usage = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        usage["s-7"].Amount.Amount.ShouldBe(-199.20m);
        var debits = await app.RealTimeDebitsAsync(c, "2026-10");
        debits.ShouldBe(2801.595m);
        var beforeClose = await _admin.WalletAsync(c);
        beforeClose.Str("balance").ShouldBe("1198.405000");   // 4,000 − 2,801.595

        var close = await _billing.CloseForAsync("2026-10", c);
        var invoiceId = close["invoices"]![0]!.GetValue<string>();
        invoiceId.ShouldBe($"INV-2026-10-{c}");

        // Lines: mau 1,001 × 0.80 = 800.80; sms 10,000 × 0.20 = 2,000.00 and 3 × 0.15 = 0.45;
        // whatsapp 3 × 0.115 = 0.345 → 0.35 (half away from zero; half-to-even would give 0.34).
        // subtotal 800.80 + 2,000.00 + 0.45 + 0.35 = 2,801.60; tax 2,801.60 × 0.18 = 504.288 → 504.29;
        // total 3,305.89; settlement 3,305.89 − 2,801.595 = 504.295.
        var invoice = await _finance.InvoiceAsync(invoiceId);
        invoice.Str("subtotal").ShouldBe("2801.60");
        invoice.Str("tax").ShouldBe("504.29");
        invoice.Str("total").ShouldBe("3305.89");
        invoice.Str("usageCharged").ShouldBe("2801.595000");
        invoice.Str("settlement").ShouldBe("504.295000");

        // The events the close appended to the customer's stream: the invoice, then its settlement.
        var stream = await app.CustomerStreamAsync(c);
        var issued = stream.Select(e => e.Data).OfType<InvoiceIssued>().ShouldHaveSingleItem();
        var settled = stream.Select(e => e.Data).OfType<PeriodSettled>().ShouldHaveSingleItem();
        stream[^2].Data.ShouldBeSameAs(issued);
        stream[^1].Data.ShouldBeSameAs(settled);
        issued.UsageCharged.ShouldBe(debits);
        settled.InvoiceId.ShouldBe(invoiceId);
        settled.Period.ShouldBe("2026-10");
        settled.Amount.ShouldBe(new Money(504.295m, "INR"));

        // The invariant: Σ real-time usage debits of the period + settlement = invoice total.
        (debits + settled.Amount.Amount).ShouldBe(issued.Invoice.Total);
        issued.Invoice.Total.ShouldBe(3305.89m);
        // And the wallet has paid exactly the invoice total: top-ups − total = 4,000.00 − 3,305.89.
        var wallet = await _admin.WalletAsync(c);
        wallet.Str("balance").ShouldBe("694.110000");
        wallet.Version().ShouldBe(beforeClose.Version() + 1);   // the settlement is one wallet event
        var streamVersion = stream[^1].Version;

        // Closing again answers the same invoice ids and changes nothing.
        var again = await _billing.CloseForAsync("2026-10", c);
        again.ToJsonString().ShouldBe(close.ToJsonString());
        (await _finance.InvoiceAsync(invoiceId)).ToJsonString().ShouldBe(invoice.ToJsonString());
        (await _admin.WalletAsync(c)).WithoutAsOf().ToJsonString().ShouldBe(wallet.WithoutAsOf().ToJsonString());
        var streamAfter = await app.CustomerStreamAsync(c);
        streamAfter.Count.ShouldBe(stream.Count);
        streamAfter[^1].Version.ShouldBe(streamVersion);
        (await app.UsageEventsAsync(c)).Count.ShouldBe(7);
    }

    [Fact]
    public async Task A_settlement_below_the_real_time_debits_is_credited_back_to_the_wallet()
    {
        // No tax and a 6-decimal price, so the rounded line is below what was charged in real time.
        var c = await _admin.NewCustomerInZoneAsync("UTC",
            """{ "currency": "INR", "taxRate": "0", "meters": { "otp.whatsapp": { "model": "flat", "unitPrice": "0.114" } } }""");
        await _admin.TopUpAsync(c, "10.00");
        (await _meter.RecordUsageAsync(Batch(Event("w-1", c, "otp.whatsapp", "1", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("9.886000");   // 10.00 − 0.114

        await _billing.CloseForAsync("2026-10", c);

        // 1 × 0.114 → 0.11; tax 0.00; total 0.11; settlement 0.11 − 0.114 = −0.004 (a credit).
        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");
        invoice.Str("total").ShouldBe("0.11");
        invoice.Str("tax").ShouldBe("0.00");
        invoice.Str("settlement").ShouldBe("-0.004000");
        (await app.CustomerStreamAsync(c)).Select(e => e.Data).OfType<PeriodSettled>().ShouldHaveSingleItem()
            .Amount.ShouldBe(new Money(-0.004m, "INR"));
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("9.890000");   // 10.00 − 0.11
    }

    [Theory]
    [InlineData("INR", "0.81", "0.15", "0.96", "99.040000")]     // 7 × 0.115 = 0.805 → 0.81; tax 0.1458 → 0.15
    [InlineData("JPY", "1", "0", "1", "99.000000")]              // 0.805 → 1 yen; tax 0.18 → 0
    [InlineData("BHD", "0.805", "0.145", "0.950", "99.050000")]  // 3 decimals: 0.805 stays; tax 0.1449 → 0.145
    public async Task Lines_and_tax_are_rounded_to_the_currencys_minor_unit(string currency, string amount, string tax, string total, string balance)
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC", Api.StarterPlan.Replace("\"INR\"", $"\"{currency}\""), currency);
        await _admin.TopUpAsync(c, "100");
        (await _meter.RecordUsageAsync(Batch(Event("m-1", c, "otp.whatsapp", "7", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));

        await _billing.CloseForAsync("2026-10", c);

        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");
        invoice.Str("currency").ShouldBe(currency);
        invoice["lines"]!.AsArray().ShouldHaveSingleItem().Str("amount").ShouldBe(amount);
        invoice.Str("subtotal").ShouldBe(amount);
        invoice.Str("tax").ShouldBe(tax);
        invoice.Str("total").ShouldBe(total);
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe(balance);   // 100 − total
    }

    /// <summary>
    /// The contract prices graduated usage by "the tier it falls in (cumulative quantity in the
    /// period)", and real-time rating does so across a plan change. Here the customer moves to a
    /// plan with the very same prices in the middle of October, so the bill must not change.
    /// </summary>
    [Fact]
    public async Task A_plan_change_in_the_middle_of_a_period_keeps_counting_graduated_tiers_over_the_whole_period()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        var (_, customer) = await _admin.GetJson($"/v1/customers/{c}");
        var firstPlan = customer.Str("planId");
        var samePrices = LedgerApp.NewId("plan");
        (await _admin.PutJson($"/v1/plans/{samePrices}", Api.StarterPlan)).Status.ShouldBe(HttpStatusCode.Created);
        await _admin.TopUpAsync(c, "5000.00");

        (await _meter.RecordUsageAsync(Batch(Event("c-1", c, "otp.sms", "9000", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));
        var (switched, body) = await _admin.PutJson($"/v1/customers/{c}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{samePrices}}", "currency": "INR", "creditLimit": "0", "lowBalanceThreshold": "100", "billingTimeZone": "UTC" }
            """);
        switched.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        (await _meter.RecordUsageAsync(Batch(Event("c-2", c, "otp.sms", "2000", "2026-10-20T10:00:00Z")))).ShouldBe((1, 0));

        // Real time: 9,000 × 0.20 = 1,800.00, then units 9,001–11,000: 1,000 × 0.20 + 1,000 × 0.15 = 350.00.
        (await app.RealTimeDebitsAsync(c, "2026-10")).ShouldBe(2150.00m);

        await _billing.CloseForAsync("2026-10", c);
        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");

        // 11,000 sms in the period: 10,000 × 0.20 + 1,000 × 0.15 = 2,150.00; tax 387.00; total 2,537.00.
        var lines = invoice["lines"]!.AsArray();
        lines.Where(l => l.Str("unitPrice") == "0.15").Sum(l => decimal.Parse(l.Str("quantity"), System.Globalization.CultureInfo.InvariantCulture))
            .ShouldBe(1000m, invoice.ToJsonString());
        lines.Select(l => $"{l.Str("description")} | {l.Str("quantity")} | {l.Str("amount")}").OrderBy(l => l, StringComparer.Ordinal).ShouldBe(new[]
        {
            $"otp.sms 1–10,000 (plan {firstPlan} v1) | 9000 | 1800.00",
            $"otp.sms 1–10,000 (plan {samePrices} v1) | 1000 | 200.00",
            $"otp.sms 10,001+ (plan {samePrices} v1) | 1000 | 150.00",
        }.OrderBy(l => l, StringComparer.Ordinal));
        invoice.Str("subtotal").ShouldBe("2150.00");
        invoice.Str("total").ShouldBe("2537.00");
        invoice.Str("settlement").ShouldBe("387.000000");   // the tax alone: nothing to true up on a graduated meter
    }

    /// <summary>
    /// October's tax is the rate of the plan the customer was on when October ended: moving the
    /// customer to another plan in November, before October is closed, must not re-tax October.
    /// </summary>
    [Fact]
    public async Task A_plan_change_after_the_period_ended_does_not_change_the_periods_tax_rate()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        var lowTax = LedgerApp.NewId("plan");
        (await _admin.PutJson($"/v1/plans/{lowTax}", Api.StarterPlan.Replace("\"0.18\"", "\"0.05\""))).Status.ShouldBe(HttpStatusCode.Created);
        (await _meter.RecordUsageAsync(Batch(Event("x-1", c, "otp.sms", "100", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));

        // In November (today), before October is closed, the customer moves to a plan taxed at 5%.
        var (switched, body) = await _admin.PutJson($"/v1/customers/{c}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{lowTax}}", "currency": "INR", "creditLimit": "0", "lowBalanceThreshold": "100", "billingTimeZone": "UTC" }
            """);
        switched.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        await _billing.CloseForAsync("2026-10", c);

        // 100 × 0.20 = 20.00, all of it rated under the 18% plan: tax 3.60, total 23.60.
        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");
        invoice.Str("subtotal").ShouldBe("20.00");
        invoice.Str("taxRate").ShouldBe("0.18", invoice.ToJsonString());
        invoice.Str("tax").ShouldBe("3.60");
        invoice.Str("total").ShouldBe("23.60");
    }

    [Fact]
    public async Task A_customer_without_usage_gets_an_invoice_with_no_lines_and_zero_totals_and_its_balance_is_unchanged()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.TopUpAsync(c, "250.00");
        var wallet = await _admin.WalletAsync(c);

        (await _billing.CloseForAsync("2026-10", c))["invoices"]!.AsArray().Select(i => i!.GetValue<string>())
            .ShouldBe([$"INV-2026-10-{c}"]);

        var invoice = await _finance.InvoiceAsync($"INV-2026-10-{c}");
        invoice["lines"]!.AsArray().ShouldBeEmpty();
        invoice.Str("subtotal").ShouldBe("0.00");
        invoice.Str("tax").ShouldBe("0.00");
        invoice.Str("total").ShouldBe("0.00");
        invoice.Str("usageCharged").ShouldBe("0.000000");
        invoice.Str("settlement").ShouldBe("0.000000");

        var after = await _admin.WalletAsync(c);
        after.Str("balance").ShouldBe("250.000000");
        after.Str("available").ShouldBe(wallet.Str("available"));
        after.Str("status").ShouldBe(wallet.Str("status"));
        (await app.CustomerStreamAsync(c)).Select(e => e.Data).OfType<PeriodSettled>().ShouldHaveSingleItem()
            .Amount.Amount.ShouldBe(0m);
    }

    [Fact]
    public async Task Invoices_are_listed_per_customer_and_per_period()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        (await _meter.RecordUsageAsync(Batch(
            Event("l-1", c, "otp.whatsapp", "2", "2026-09-10T10:00:00Z"),
            Event("l-2", c, "otp.whatsapp", "4", "2026-10-10T10:00:00Z")))).ShouldBe((2, 0));
        await _billing.CloseForAsync("2026-10", c);
        await _billing.CloseForAsync("2026-09", c);

        var (status, all) = await _finance.GetJson($"/v1/invoices?customerId={c}");
        status.ShouldBe(HttpStatusCode.OK, all?.ToJsonString());
        all!["items"]!.AsArray().Select(i => i.Str("id")).ShouldBe([$"INV-2026-09-{c}", $"INV-2026-10-{c}"]);

        var (_, september) = await _finance.GetJson($"/v1/invoices?customerId={c}&period=2026-09");
        var only = september!["items"]!.AsArray().ShouldHaveSingleItem()!;
        only.Str("id").ShouldBe($"INV-2026-09-{c}");
        only["lines"]![0].Str("quantity").ShouldBe("2");   // 2 × 0.115 = 0.23
        only.Str("subtotal").ShouldBe("0.23");
        (await _finance.InvoiceAsync($"INV-2026-09-{c}")).ToJsonString().ShouldBe(only.ToJsonString());
    }

    /// <summary>
    /// The one test that closes without <c>?customerId=</c>, which reaches every customer of the
    /// shared test database: it closes 2025-03, a period no other test uses, and asserts only
    /// about its own customers.
    /// </summary>
    [Fact]
    public async Task Closing_a_period_for_everyone_invoices_the_customers_with_usage_in_it_and_refuses_a_period_not_ended_anywhere()
    {
        var withUsage = await _admin.NewCustomerInZoneAsync("UTC");
        var kolkata = await _admin.NewCustomerInZoneAsync("Asia/Kolkata");
        var newcomer = await _admin.NewCustomerInZoneAsync("UTC");   // created in 2026-11, no usage in 2025-03
        (await _meter.RecordUsageAsync(Batch(
            Event("a-1", withUsage, "otp.whatsapp", "10", "2025-03-15T10:00:00Z"),
            Event("a-2", kolkata, "otp.whatsapp", "20", "2025-03-31T18:29:00Z")))).ShouldBe((2, 0));   // 23:59 in Kolkata

        // The period the easternmost zone (UTC+14) is in now has ended for nobody, whatever today's
        // date is: nothing is closed, the answer names one of the customers.
        var (notEnded, problem) = await _billing.ClosePeriodAsync(Ledger.Common.BillingPeriods.Of(DateTimeOffset.UtcNow, "Pacific/Kiritimati"));
        notEnded.ShouldBe(HttpStatusCode.Conflict, problem?.ToJsonString());
        problem.Str("type").ShouldBe("urn:ledger:problem:period-not-ended");
        problem.Str("detail").ShouldContain("e.g. '");

        var (status, body) = await _billing.ClosePeriodAsync("2025-03");
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        body.Str("period").ShouldBe("2025-03");
        var invoices = body!["invoices"]!.AsArray().Select(i => i!.GetValue<string>()).ToList();
        invoices.ShouldContain($"INV-2025-03-{withUsage}");
        invoices.ShouldContain($"INV-2025-03-{kolkata}");
        invoices.ShouldNotContain($"INV-2025-03-{newcomer}");
        invoices.ShouldBeUnique();

        (await _finance.InvoiceAsync($"INV-2025-03-{withUsage}")).Str("subtotal").ShouldBe("1.15");   // 10 × 0.115
        (await _finance.InvoiceAsync($"INV-2025-03-{kolkata}")).Str("subtotal").ShouldBe("2.30");     // 20 × 0.115
        var (missing, _) = await _finance.GetJson($"/v1/invoices/INV-2025-03-{newcomer}");
        missing.ShouldBe(HttpStatusCode.NotFound);

        // Again: the same invoices for these customers, and nothing new on their streams.
        var streamLength = (await app.CustomerStreamAsync(withUsage)).Count;
        var (_, again) = await _billing.ClosePeriodAsync("2025-03");
        var invoicesAgain = again!["invoices"]!.AsArray().Select(i => i!.GetValue<string>()).ToList();
        invoicesAgain.ShouldContain($"INV-2025-03-{withUsage}");
        invoicesAgain.ShouldContain($"INV-2025-03-{kolkata}");
        invoicesAgain.ShouldNotContain($"INV-2025-03-{newcomer}");
        (await app.CustomerStreamAsync(withUsage)).Count.ShouldBe(streamLength);
    }
}
