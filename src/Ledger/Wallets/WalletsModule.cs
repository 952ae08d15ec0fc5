using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Wallets;

public static class WalletsModule
{
    public static void Configure(StoreOptions options)
    {
        // Inline: the balance a debit decides on, and the one GET answers, is committed with the event.
        options.Storage.ExtendedSchemaObjects.Add(WalletTable.Definition(options.DatabaseSchemaName));
        // A rebuild empties the table first, then replays every wallet event into it.
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
