using Marten;

namespace Ledger.Audit;

public static class AuditModule
{
    /// <summary>The stream heads are write-side state (no projection touches them); every session chains what it appends.</summary>
    public static void Configure(StoreOptions options)
    {
        options.Storage.ExtendedSchemaObjects.Add(AuditChain.HeadsDefinition(options.DatabaseSchemaName));
        options.Listeners.Add(new AuditChain.Listener(TimeProvider.System));
        // The per-customer index on mt_events is the ledger's, not Marten's: migrations must keep it.
        options.Events.IgnoreIndex(AuditTrail.ByCustomerIndex);
    }

    public static IServiceCollection AddAudit(this IServiceCollection services) => services.AddSingleton<AuditVerifier>();
}
