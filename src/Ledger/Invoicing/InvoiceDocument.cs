namespace Ledger.Invoicing;

/// <summary>
/// What an issued invoice says: everything the PDF shows, and nothing read from a clock, so the
/// same document renders to the same bytes at any time.
/// </summary>
/// <param name="Id">E.g. <c>INV-2026-10-acme</c>.</param>
/// <param name="Period">The billing period, <c>yyyy-MM</c>.</param>
/// <param name="PeriodStart">The first instant of the period in <paramref name="BillingTimeZone"/>.</param>
/// <param name="PeriodEnd">The first instant after the period (exclusive).</param>
/// <param name="BillingTimeZone">An IANA zone; dates on the invoice are shown in it.</param>
public sealed record InvoiceDocument(
    string Id,
    string CustomerId,
    string CustomerName,
    string Period,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    string BillingTimeZone,
    string Currency,
    DateTimeOffset IssuedAt,
    IReadOnlyList<InvoiceLine> Lines,
    decimal Subtotal,
    decimal TaxRate,
    decimal Tax,
    decimal Total)
{
    public static InvoiceDocument Create(string id, string customerId, string customerName, string period,
        DateTimeOffset periodStart, DateTimeOffset periodEnd, string billingTimeZone, string currency, DateTimeOffset issuedAt,
        InvoiceComputation computation) =>
        new(id, customerId, customerName, period, periodStart, periodEnd, billingTimeZone, currency, issuedAt,
            computation.Lines, computation.Subtotal, computation.TaxRate, computation.Tax, computation.Total);
}

/// <summary>The issuer printed on every invoice (from configuration).</summary>
/// <param name="Address">Lines separated by <c>\n</c>.</param>
public sealed record SellerInfo(string Name, string Address, string TaxId, string Email)
{
    /// <summary>The seller printed on invoices, from <c>Ledger:Invoicing:Seller:*</c>.</summary>
    public static SellerInfo From(IConfiguration configuration) => new(
        configuration["Ledger:Invoicing:Seller:Name"] ?? "Ledger Billing",
        configuration["Ledger:Invoicing:Seller:Address"] ?? "1 Ledger Street\nBengaluru 560001\nIndia",
        configuration["Ledger:Invoicing:Seller:TaxId"] ?? "GSTIN 29ABCDE1234F1Z5",
        configuration["Ledger:Invoicing:Seller:Email"] ?? "billing@ledger.example");
}
