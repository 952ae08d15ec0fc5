using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Invoicing;

public static class InvoicingModule
{
    public static void Configure(StoreOptions options)
    {
        options.Events.AddEventType<InvoiceIssued>();
        options.Events.AddEventType<PeriodSettled>();
        options.Projections.Add(new InvoiceProjection(), ProjectionLifecycle.Inline);
        options.Schema.For<Invoice>()
            .Index(i => i.Document.CustomerId)
            .Index(i => i.Document.Period);
    }
}
