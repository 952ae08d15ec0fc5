using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Customers;

public static class CustomersModule
{
    public static void Configure(StoreOptions options) =>
        options.Projections.Add<CustomerProjection>(ProjectionLifecycle.Inline);
}
