using Marten;

namespace Ledger.Audit;

public static class AuditModule
{
    /// <summary>The stream heads are write-side state (no projection touches them).</summary>
    public static void Configure(StoreOptions options)
    {
        options.Storage.ExtendedSchemaObjects.Add(AuditChain.HeadsDefinition(options.DatabaseSchemaName));
        // The per-customer index on mt_events is the ledger's, not Marten's: migrations must keep it.
        options.Events.IgnoreIndex(AuditTrail.ByCustomerIndex);
    }

    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        // The chain's `occurredAt` comes from the host's clock, like every other time the ledger writes.
        services.ConfigureMarten((provider, options) => options.Listeners.Add(new AuditChain.Listener(provider.GetRequiredService<TimeProvider>())));
        return services.AddSingleton<AuditVerifier>();
    }
}
