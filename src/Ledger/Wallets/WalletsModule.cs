using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Wallets;

public static class WalletsModule
{
    public static void Configure(StoreOptions options)
    {
        // Inline: the balance a GET answers is committed with the event (read-after-write). No decision reads it.
        options.Storage.ExtendedSchemaObjects.Add(WalletTable.Definition(options.DatabaseSchemaName));
        // The ledger rebuilds its read models itself (Operations/ProjectionRebuilds.cs); these options keep
        // Marten's own offline `projections rebuild` correct too (empty the table first, large pages).
        options.Projections.Add(new WalletTable(options.DatabaseSchemaName), ProjectionLifecycle.Inline, WalletTable.ProjectionName,
            rebuild =>
            {
                rebuild.DeleteDataInTableOnTeardown($"{options.DatabaseSchemaName}.{WalletTable.TableName}");
                // Large pages: one set-based statement covers thousands of events in a rebuild.
                rebuild.BatchSize = 5000;
                rebuild.MaximumHopperSize = 20000;
            });
        // The per-customer usage index on mt_events is the ledger's, not Marten's: migrations must keep it.
        options.Events.IgnoreIndex(WalletHistory.UsageByCustomerIndex);
        options.Schema.For<MoneyCommandReceipt>();
    }
}
