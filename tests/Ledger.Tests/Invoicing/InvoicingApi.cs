using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using JasperFx.Events;
using Ledger.Common;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using Marten;
using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;

namespace Ledger.Tests.Invoicing;

/// <summary>Helpers for the period close and invoice endpoints, and for reading what a close appended.</summary>
public static class InvoicingApi
{
    /// <summary>Creates a plan (the starter plan unless <paramref name="plan"/>) and a customer on it billed in <paramref name="timeZone"/>.</summary>
    public static async Task<string> NewCustomerInZoneAsync(this HttpClient client, string timeZone, string plan = Api.StarterPlan,
        string currency = "INR")
    {
        var planId = LedgerApp.NewId("plan");
        var (planStatus, planBody) = await client.PutJson($"/v1/plans/{planId}", plan);
        planStatus.ShouldBe(HttpStatusCode.Created, planBody?.ToJsonString());

        var customerId = LedgerApp.NewId("cust");
        var (status, body) = await client.PutJson($"/v1/customers/{customerId}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{planId}}", "currency": "{{currency}}",
              "creditLimit": "0", "lowBalanceThreshold": "100", "billingTimeZone": "{{timeZone}}" }
            """);
        status.ShouldBe(HttpStatusCode.Created, body?.ToJsonString());
        return customerId;
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body)> ClosePeriodAsync(this HttpClient client, string period, string? customerId = null) =>
        client.SendJson(HttpMethod.Post, customerId is null
            ? $"/v1/billing/periods/{period}/close"
            : $"/v1/billing/periods/{period}/close?customerId={Uri.EscapeDataString(customerId)}");

    /// <summary>Closes one customer's period, which must succeed; returns the close answer.</summary>
    public static async Task<JsonNode> CloseForAsync(this HttpClient client, string period, string customerId)
    {
        var (status, body) = await client.ClosePeriodAsync(period, customerId);
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        return body!;
    }

    public static async Task<JsonNode> InvoiceAsync(this HttpClient client, string invoiceId)
    {
        var (status, body) = await client.GetJson($"/v1/invoices/{invoiceId}");
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        return body!;
    }

    public static async Task<byte[]> PdfAsync(this HttpClient client, string invoiceId)
    {
        using var response = await client.GetAsync($"/v1/invoices/{invoiceId}/pdf");
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/pdf");
        return await response.Content.ReadAsByteArrayAsync();
    }

    public static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>The text of a PDF, whitespace collapsed to single spaces.</summary>
    public static string PdfText(byte[] pdf)
    {
        using var document = PdfDocument.Open(pdf);
        var text = string.Join("\n", document.GetPages().Select(p => ContentOrderTextExtractor.GetText(p)));
        return Regex.Replace(text, @"\s+", " ");
    }

    /// <summary>Every event of the customer's own stream (registration, money commands, invoices, settlements).</summary>
    public static async Task<IReadOnlyList<IEvent>> CustomerStreamAsync(this LedgerApp app, string customerId)
    {
        await using var session = app.Store.QuerySession();
        return await session.Events.FetchStreamAsync(StreamKeys.Customer(customerId));
    }

    /// <summary>Σ of the real-time usage debits billed in <paramref name="period"/> (late usage included).</summary>
    public static async Task<decimal> RealTimeDebitsAsync(this LedgerApp app, string customerId, string period) =>
        (await Metering.UsageApi.UsageEventsAsync(app, customerId)).Select(e => (UsageRecorded)e.Data)
        .Where(u => u.Period == period).Sum(u => u.Amount.Amount);

    /// <summary>Wallet documents without the read time, which differs on every GET.</summary>
    public static JsonNode WithoutAsOf(this JsonNode wallet)
    {
        var copy = wallet.DeepClone().AsObject();
        copy.Remove("asOf");
        return copy;
    }
}
