namespace Ledger.Hosting;

/// <summary>
/// What the interactive docs and the OpenAPI document say of each operation and tag: a summary
/// people read instead of the route, a description, and an example body taken from docs/api.md.
/// Keyed by the endpoints' <c>OperationId</c>; a test fails if an operation has no entry.
/// </summary>
public static class OpenApiOperations
{
    public sealed record Doc(string Summary, string Description, string? Example = null);

    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["Usage"] = "Metering: record usage events (HTTP or the ledger.usage.v1 topic), read usage rollups.",
        ["Wallets"] = "Prepaid wallets: balances (now or as of an instant), top-ups, debits, adjustments, statements.",
        ["Customers"] = "Customers and their terms: plan, currency, credit limit, low-balance threshold, billing time zone.",
        ["Plans"] = "Price plans and their versions: flat, graduated, volume and package pricing per meter.",
        ["Invoicing"] = "Period close, invoices and their PDFs.",
        ["Audit"] = "For finance: every event of a customer with its hash chain, and verification of the whole ledger.",
        ["Operations"] = "For engineers: read models and their rebuilds on a running ledger.",
    };

    public static readonly IReadOnlyDictionary<string, Doc> ByOperationId = new Dictionary<string, Doc>
    {
        ["RecordUsage"] = new("Record a batch of usage",
            "Up to 5,000 events, validated as a whole (any invalid event → 400 with errors keyed events[i].field, nothing stored), " +
            "deduplicated by (customer, event id), rated and debited in real time; never refused for lack of funds. " +
            "Also accepts a CloudEvents batch (application/cloudevents-batch+json).",
            """{ "events": [ { "id": "evt-0001", "customerId": "acme", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-25T10:00:00Z", "dimensions": { "country": "IN" } } ] }"""),
        ["GetUsage"] = new("Read a customer's usage rollups", "Usage by meter and dimensions in hourly or daily buckets over [from, to)."),
        ["GetWallet"] = new("Read a wallet's balance", "Balance, credit limit, available amount and status; with asOf, the wallet as it stood at that instant, folded from the events."),
        ["TopUpWallet"] = new("Credit a payment to a wallet", "Idempotent by id: the same id and body answer the first result again (200); the same id with another body → 409.",
            """{ "id": "tu-2026-11-25-001", "amount": "500.00", "reference": "razorpay:pay_N8x" }"""),
        ["DebitWallet"] = new("Debit a wallet manually", "Refused with 422 insufficient-funds beyond the credit limit. Idempotent by id.",
            """{ "id": "db-1", "amount": "25.00", "reason": "setup fee" }"""),
        ["AdjustWallet"] = new("Correct a wallet", "A signed correction by finance (billing:write), never refused for funds. Idempotent by id.",
            """{ "id": "adj-1", "amount": "-1.10", "reason": "duplicate charge refunded" }"""),
        ["GetWalletStatement"] = new("Export a wallet statement", "Opening balance, every movement in [from, to) with the balance after it and its actor, closing balance; CSV with Accept: text/csv."),
        ["RegisterCustomer"] = new("Register or update a customer", "Creates the customer and its wallet (201), or changes its name, plan and terms (200).",
            """{ "name": "Acme Pvt Ltd", "planId": "starter", "currency": "INR", "creditLimit": "0.00", "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }"""),
        ["GetCustomer"] = new("Read a customer", "The customer's current terms."),
        ["PublishPlan"] = new("Publish a plan version", "Creates the plan or publishes its next version, effective from effectiveFrom (default: now); the same body again changes nothing.",
            """{ "currency": "INR", "taxRate": "0.18", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20" } } }"""),
        ["GetPlan"] = new("Read a plan", "The plan's current version and the list of its versions."),
        ["ClosePeriod"] = new("Close a billing period", "Issues an invoice (with its PDF) for every customer whose period has ended, or for one with customerId; idempotent."),
        ["ListInvoices"] = new("List invoices", "Invoices by customer and period."),
        ["GetInvoice"] = new("Read an invoice", "Lines, subtotal, tax and total, and the SHA-256 of its PDF."),
        ["GetInvoicePdf"] = new("Download an invoice PDF", "The same bytes every time (reproducible); their SHA-256 is in the invoice."),
        ["GetAuditEvents"] = new("List a customer's events", "Every event that concerns the customer, in recording order, with actor, correlation id and hash chain; paged, or streamed as NDJSON."),
        ["VerifyAudit"] = new("Verify the ledger", "Every hash chain intact, and every wallet and invoice equal to a replay of the events; optionally for one customer."),
        ["ListProjections"] = new("List read models", "Each read model's position, the store's high-water mark, lag and status."),
        ["RebuildProjection"] = new("Rebuild a read model", "Replays the events into the read model on a running ledger (202, poll the Location); mode=verify only reports differences."),
        ["GetProjectionRebuild"] = new("Read a rebuild's progress", "Status, events processed, and with mode=verify the rows that differ."),
    };
}
