using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Plans;

public static class PlansModule
{
    public static void Configure(StoreOptions options) =>
        options.Projections.Add<PlanProjection>(ProjectionLifecycle.Inline);
}
