using System.Net;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>
/// A close racing usage and other closes of the same customer: the wallet row lock orders them, so
/// every usage event is either on the invoice or billed late in the next period, never both or
/// neither, and a period is settled once.
/// </summary>
[Collection(LedgerCollection.Name)]
public class PeriodCloseConcurrencyTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();

    [Fact]
    public async Task Usage_racing_a_close_is_either_on_the_invoice_or_billed_late_and_the_settlement_matches()
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.TopUpAsync(c, "1000.00");
        (await app.Client("usage:write").RecordUsageAsync(Batch(Event("r-0", c, "otp.whatsapp", "1", "2026-10-01T00:00:00Z")))).ShouldBe((1, 0));

        // 30 single-event October batches from 6 clients, with the close sent among them.
        var usage = Enumerable.Range(1, 30).Select(async i =>
        {
            await Task.Delay(i % 10 * 3);
            return await app.Client("usage:write", subject: $"client-{i % 6}")
                .RecordUsageAsync(Batch(Event($"r-{i}", c, "otp.whatsapp", "1", $"2026-10-{i:00}T12:00:00Z")));
        }).ToList();
        var close = Task.Run(async () =>
        {
            await Task.Delay(10);
            return await app.Client("billing:write").ClosePeriodAsync("2026-10", c);
        });
        (await Task.WhenAll(usage)).Sum(u => u.Accepted).ShouldBe(30);
        var (status, body) = await close;
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());

        var events = (await app.UsageEventsAsync(c)).Select(e => (UsageRecorded)e.Data).ToList();
        events.Count.ShouldBe(31);
        var onInvoice = events.Where(u => u.Period == "2026-10").ToList();
        var late = events.Where(u => u.Period != "2026-10").ToList();
        onInvoice.ShouldAllBe(u => !u.Late);
        late.ShouldAllBe(u => u.Late && u.Period == "2026-11");

        var invoice = await _admin.InvoiceAsync($"INV-2026-10-{c}");
        var line = invoice["lines"]!.AsArray().ShouldHaveSingleItem()!;
        line.Str("quantity").ShouldBe(onInvoice.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        decimal.Parse(invoice.Str("usageCharged"), System.Globalization.CultureInfo.InvariantCulture).ShouldBe(onInvoice.Sum(u => u.Amount.Amount));
        var total = decimal.Parse(invoice.Str("total"), System.Globalization.CultureInfo.InvariantCulture);
        // Computed here, independently of the closer: n × 0.115 rounded to paise, plus 18% tax rounded the same way.
        var subtotal = Math.Round(onInvoice.Count * 0.115m, 2, MidpointRounding.AwayFromZero);
        total.ShouldBe(subtotal + Math.Round(subtotal * 0.18m, 2, MidpointRounding.AwayFromZero));
        var settled = (await app.CustomerStreamAsync(c)).Select(e => e.Data).OfType<PeriodSettled>().ShouldHaveSingleItem();
        (onInvoice.Sum(u => u.Amount.Amount) + settled.Amount.Amount).ShouldBe(total);

        // The wallet: top-up − October's invoice total − the late usage charged in real time.
        var expected = 1000.00m - total - late.Sum(u => u.Amount.Amount);
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe(expected.ToString("F6", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Concurrent_closes_of_one_customer_issue_one_invoice_and_settle_once()
    {
        var c = await _admin.NewCustomerInZoneAsync("Asia/Kolkata");
        await _admin.TopUpAsync(c, "100.00");
        (await app.Client("usage:write").RecordUsageAsync(Batch(Event("q-1", c, "otp.whatsapp", "10", "2026-10-10T10:00:00Z")))).ShouldBe((1, 0));

        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => app.Client("billing:write").ClosePeriodAsync("2026-10", c)));

        answers.ShouldAllBe(a => a.Status == HttpStatusCode.OK);
        answers.Select(a => a.Body!.ToJsonString()).Distinct().ShouldHaveSingleItem()
            .ShouldBe($$"""{"period":"2026-10","invoices":["INV-2026-10-{{c}}"]}""");
        var stream = await app.CustomerStreamAsync(c);
        stream.Select(e => e.Data).OfType<InvoiceIssued>().ShouldHaveSingleItem();
        stream.Select(e => e.Data).OfType<PeriodSettled>().ShouldHaveSingleItem();
        // 10 × 0.115 = 1.15; tax 0.207 → 0.21; total 1.36, paid once: 100 − 1.36.
        (await _admin.WalletAsync(c)).Str("balance").ShouldBe("98.640000");
    }
}
