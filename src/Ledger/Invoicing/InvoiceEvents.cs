using Ledger.Common;

namespace Ledger.Invoicing;

/// <summary>
/// An invoice was issued for a customer's closed period. It carries the whole document and the
/// seller it was issued by, so the PDF can be rendered again, byte for byte, from the event alone;
/// <see cref="PdfSha256"/> is the digest of those bytes at issue.
/// </summary>
public sealed record InvoiceIssued(InvoiceDocument Invoice, SellerInfo Seller, decimal UsageCharged, string PdfSha256);

/// <summary>
/// The period's settlement against the wallet: invoice total − usage charged in real time,
/// debited when positive, credited when negative, so the wallet has paid exactly the invoice total.
/// </summary>
public sealed record PeriodSettled(string CustomerId, string Period, string InvoiceId, Money Amount, DateTimeOffset SettledAt);
