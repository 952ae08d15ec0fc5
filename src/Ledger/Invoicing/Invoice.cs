using JasperFx.Events;
using Marten;
using Marten.Events.Projections;

namespace Ledger.Invoicing;

/// <summary>An issued invoice as finance reads it; id <c>INV-{period}-{customerId}</c>.</summary>
public sealed record Invoice(string Id, InvoiceDocument Document, SellerInfo Seller, decimal UsageCharged, decimal Settlement, string PdfSha256)
{
    /// <summary>
    /// The version of what the projection writes. Raise it when a change to the code changes the
    /// documents it gives: the next start rebuilds them blue/green (Operations/ProjectionVersions.cs).
    /// </summary>
    public const int ProjectionVersion = 1;

    /// <summary>The invoice document an issued invoice gives.</summary>
    public static Invoice From(InvoiceIssued issued) =>
        new(issued.Invoice.Id, issued.Invoice, issued.Seller, issued.UsageCharged, issued.Invoice.Total - issued.UsageCharged, issued.PdfSha256);

    public static string IdFor(string period, string customerId) => $"INV-{period}-{customerId}";

    /// <summary>Whether an id has the shape of an invoice id; any other text is answered 404 without a query.</summary>
    public static bool IsWellFormedId(string? id) =>
        id is { Length: > 12 } && id.StartsWith("INV-", StringComparison.Ordinal) && id[11] == '-'
        && Common.BillingPeriods.TryParse(id[4..11], out _, out _) && Common.ClientIds.IsValid(id[12..]);
}

/// <summary>Invoice documents, projected inline from <see cref="InvoiceIssued"/>.</summary>
public sealed partial class InvoiceProjection : EventProjection
{
    public override ValueTask ApplyAsync(IDocumentOperations operations, IEvent e, CancellationToken cancellation)
    {
        if (e.Data is InvoiceIssued issued)
        {
            operations.Store(Invoice.From(issued));
        }

        return ValueTask.CompletedTask;
    }
}
