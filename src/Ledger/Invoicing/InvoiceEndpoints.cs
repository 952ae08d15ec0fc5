using System.Globalization;
using Ledger.Common;
using Ledger.Hosting;
using Ledger.Metering.Ingestion;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Ledger.Invoicing;

public sealed record ClosePeriodResponse(string Period, IReadOnlyList<string> Invoices);

public sealed record InvoiceLineResponse(string Meter, string Description, string Quantity, string? UnitPrice, string Amount, bool Late);

public sealed record InvoiceResponse(
    string Id,
    string CustomerId,
    string Period,
    string Currency,
    string IssuedAt,
    string PeriodStart,
    string PeriodEnd,
    string BillingTimeZone,
    IReadOnlyList<InvoiceLineResponse> Lines,
    string Subtotal,
    string TaxRate,
    string Tax,
    string Total,
    string UsageCharged,
    string Settlement,
    string PdfSha256)
{
    public static InvoiceResponse From(Invoice invoice)
    {
        var d = invoice.Document;
        var minor = Currencies.MinorUnits(d.Currency);
        return new InvoiceResponse(d.Id, d.CustomerId, d.Period, d.Currency, Timestamps.Format(d.IssuedAt),
            Timestamps.Format(d.PeriodStart), Timestamps.Format(d.PeriodEnd), d.BillingTimeZone,
            d.Lines.Select(l => new InvoiceLineResponse(l.Meter, l.Description, DecimalText.Canonical(l.Quantity),
                l.UnitPrice?.ToString(CultureInfo.InvariantCulture), Money.Format(l.Amount, minor), l.Late)).ToList(),
            Money.Format(d.Subtotal, minor), d.TaxRate.ToString(CultureInfo.InvariantCulture), Money.Format(d.Tax, minor),
            Money.Format(d.Total, minor), Money.Format(invoice.UsageCharged, Money.LedgerScale),
            Money.Format(invoice.Settlement, Money.LedgerScale), invoice.PdfSha256);
    }
}

public sealed record InvoiceList(IReadOnlyList<InvoiceResponse> Items);

public static class ClosePeriodEndpoint
{
    /// <summary>
    /// Closes a billing period (all customers, or one with <c>?customerId=</c>): one invoice per
    /// customer, settled against the wallet. Idempotent. 409 while the period has not ended in a
    /// customer's time zone.
    /// </summary>
    [WolverinePost("/v1/billing/periods/{period}/close", OperationId = "ClosePeriod")]
    [ProducesResponseType<ClosePeriodResponse>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [ProducesProblem(409)]
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.BillingWrite)]
    [Tags("Invoicing")]
    public static async Task<IResult> Post(string period, string? customerId, HttpContext http, IMessageBus bus)
    {
        if (!BillingPeriods.TryParse(period, out _, out _)) return Problems.Validation("period", "Must be a month, yyyy-MM.");

        return await bus.InvokeAsync<CloseOutcome>(new ClosePeriod(period, customerId, EventActor.From(http)), http.RequestAborted) switch
        {
            CloseOutcome.Closed closed => Results.Ok(new ClosePeriodResponse(closed.Period, closed.Invoices)),
            CloseOutcome.UnknownCustomer unknown => Problems.NotFound($"No customer '{unknown.CustomerId}'."),
            CloseOutcome.NotEnded notEnded => Problems.Conflict("period-not-ended",
                $"Period {period} has not ended yet in the time zone of {notEnded.Customers.Count} customer(s), e.g. '{notEnded.Customers[0]}'."),
            _ => throw new InvalidOperationException("Unknown close outcome."),
        };
    }
}

public static class InvoiceQueryEndpoints
{
    [WolverineGet("/v1/invoices", OperationId = "ListInvoices")]
    [ProducesResponseType<InvoiceList>(200)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Invoicing")]
    public static async Task<IResult> List(string? customerId, string? period, IQuerySession session, CancellationToken cancellation)
    {
        var errors = new FieldErrors();
        if (period is not null && !BillingPeriods.TryParse(period, out _, out _)) errors.Add("period", "Must be a month, yyyy-MM.");
        if (customerId is not null) Check.ClientId(errors, "customerId", customerId);
        if (errors.Any) return errors.ToProblem();
        IQueryable<Invoice> query = session.Query<Invoice>();
        if (customerId is not null) query = query.Where(i => i.Document.CustomerId == customerId);
        if (period is not null) query = query.Where(i => i.Document.Period == period);
        var invoices = await query.OrderBy(i => i.Id).Take(1000).ToListAsync(cancellation);
        return Results.Ok(new InvoiceList(invoices.Select(InvoiceResponse.From).ToList()));
    }

    [WolverineGet("/v1/invoices/{invoiceId}", OperationId = "GetInvoice")]

    [ProducesResponseType<InvoiceResponse>(200)]

    [ProducesProblem(401)]

    [ProducesProblem(403)]

    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Invoicing")]
    public static async Task<IResult> Get(string invoiceId, IQuerySession session, CancellationToken cancellation)
    {
        var invoice = Invoice.IsWellFormedId(invoiceId) ? await session.LoadAsync<Invoice>(invoiceId, cancellation) : null;
        return invoice is null ? Problems.NotFound($"No invoice '{invoiceId}'.") : Results.Ok(InvoiceResponse.From(invoice));
    }

    /// <summary>The invoice PDF, rendered from the issued document: the same bytes on every call, whose sha256 is <c>pdfSha256</c>.</summary>
    [WolverineGet("/v1/invoices/{invoiceId}/pdf", OperationId = "GetInvoicePdf")]
    [ProducesResponseType(typeof(byte[]), 200, "application/pdf")]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Invoicing")]
    public static async Task<IResult> Pdf(string invoiceId, IQuerySession session, CancellationToken cancellation)
    {
        var invoice = Invoice.IsWellFormedId(invoiceId) ? await session.LoadAsync<Invoice>(invoiceId, cancellation) : null;
        if (invoice is null) return Problems.NotFound($"No invoice '{invoiceId}'.");
        var pdf = InvoicePdf.Render(invoice.Document, invoice.Seller);
        return Results.File(pdf, "application/pdf", $"{invoice.Id}.pdf");
    }
}
