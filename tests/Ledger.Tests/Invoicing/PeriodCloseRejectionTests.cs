using System.Net;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Invoicing;

/// <summary>Every way a close or an invoice read is refused, one row per case; a refused close changes nothing.</summary>
[Collection(LedgerCollection.Name)]
public class PeriodCloseRejectionTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();

    [Theory]
    [InlineData("UTC")]
    [InlineData("Asia/Kolkata")]
    public async Task Closing_a_period_that_has_not_ended_in_the_customers_time_zone_is_409_and_changes_nothing(string zone)
    {
        // The period the customer's zone is in right now has not ended, whatever today's date is.
        var now = DateTimeOffset.UtcNow;
        var current = Ledger.Common.BillingPeriods.Of(now, zone);
        var c = await _admin.NewCustomerInZoneAsync(zone);
        await _admin.TopUpAsync(c, "100.00");
        (await app.Client("usage:write").RecordUsageAsync(Batch(Event("n-1", c, "otp.whatsapp", "2",
            Ledger.Common.Timestamps.Format(now.AddMinutes(-1)))))).ShouldBe((1, 0));
        var wallet = await _admin.WalletAsync(c);
        var streamLength = (await app.CustomerStreamAsync(c)).Count;

        using var response = await app.Client("billing:write").PostAsync($"/v1/billing/periods/{current}/close?customerId={c}", null);
        response.StatusCode.ShouldBe(HttpStatusCode.Conflict);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        var problem = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync());
        problem.Str("type").ShouldBe("urn:ledger:problem:period-not-ended");
        problem!["status"]!.GetValue<int>().ShouldBe(409);
        problem.Str("detail").ShouldContain($"'{c}'");

        var (invoice, _) = await _admin.GetJson($"/v1/invoices/INV-{current}-{c}");
        invoice.ShouldBe(HttpStatusCode.NotFound);
        (await _admin.WalletAsync(c)).WithoutAsOf().ToJsonString().ShouldBe(wallet.WithoutAsOf().ToJsonString());
        (await app.CustomerStreamAsync(c)).Count.ShouldBe(streamLength);
    }

    [Theory]
    [InlineData("2026-13")]
    [InlineData("2026-00")]
    [InlineData("2026-1")]
    [InlineData("26-10")]
    [InlineData("2026-10-01")]
    [InlineData("2026_10")]
    [InlineData("202610")]
    [InlineData("October")]
    public async Task A_period_that_is_not_yyyy_MM_is_400(string period)
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");

        var (status, problem) = await app.Client("billing:write").ClosePeriodAsync(period, c);
        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        problem.Str("type").ShouldBe("urn:ledger:problem:validation");
        problem!["errors"]!["period"].ShouldNotBeNull();

        var (list, listProblem) = await app.Client("finance:read").GetJson($"/v1/invoices?period={period}");
        list.ShouldBe(HttpStatusCode.BadRequest, listProblem?.ToJsonString());
        listProblem!["errors"]!["period"].ShouldNotBeNull();
    }

    [Theory]
    [InlineData("?customerId=nobody-0123456789")]
    [InlineData("?customerId=")]                    // an empty id is an unknown customer, not "every customer"
    [InlineData("?customerId=not%20an%20id")]
    public async Task Closing_for_an_unknown_customer_is_404(string query)
    {
        var (status, problem) = await app.Client("billing:write").SendJson(HttpMethod.Post, $"/v1/billing/periods/2025-01/close{query}");
        status.ShouldBe(HttpStatusCode.NotFound, problem?.ToJsonString());
        problem.Str("type").ShouldBe("urn:ledger:problem:not-found");
    }

    [Fact]
    public async Task An_unknown_invoice_and_its_pdf_are_404()
    {
        var finance = app.Client("finance:read");
        var (status, problem) = await finance.GetJson($"/v1/invoices/INV-2026-10-{LedgerApp.NewId("nobody")}");
        status.ShouldBe(HttpStatusCode.NotFound, problem?.ToJsonString());
        problem.Str("type").ShouldBe("urn:ledger:problem:not-found");
        using var pdf = await finance.GetAsync($"/v1/invoices/INV-2026-10-{LedgerApp.NewId("nobody")}/pdf");
        pdf.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("finance:read wallets:read wallets:write usage:write", HttpStatusCode.Forbidden)]
    [InlineData("billing:write", HttpStatusCode.OK)]
    [InlineData("admin", HttpStatusCode.OK)]
    public async Task Closing_needs_billing_write(string? scopes, HttpStatusCode expected)
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");

        var (status, body) = await app.Client(scopes).ClosePeriodAsync("2026-10", c);
        status.ShouldBe(expected, body?.ToJsonString());
        var (invoice, _) = await _admin.GetJson($"/v1/invoices/INV-2026-10-{c}");
        invoice.ShouldBe(expected == HttpStatusCode.OK ? HttpStatusCode.OK : HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("billing:write wallets:read wallets:write usage:write", HttpStatusCode.Forbidden)]
    [InlineData("finance:read", HttpStatusCode.OK)]
    [InlineData("admin", HttpStatusCode.OK)]
    public async Task Reading_invoices_needs_finance_read(string? scopes, HttpStatusCode expected)
    {
        var c = await _admin.NewCustomerInZoneAsync("UTC");
        await _admin.CloseForAsync("2026-10", c);
        var client = app.Client(scopes);

        var (list, _) = await client.GetJson($"/v1/invoices?customerId={c}");
        list.ShouldBe(expected);
        var (one, _) = await client.GetJson($"/v1/invoices/INV-2026-10-{c}");
        one.ShouldBe(expected);
        using var pdf = await client.GetAsync($"/v1/invoices/INV-2026-10-{c}/pdf");
        pdf.StatusCode.ShouldBe(expected);
    }
}
