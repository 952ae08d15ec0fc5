using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Wallets;

public static class WalletsModule
{
    public static void Configure(StoreOptions options)
    {
        // Inline: the balance a debit decides on, and the one GET answers, is committed with the event.
        options.Storage.ExtendedSchemaObjects.Add(WalletTable.Definition(options.DatabaseSchemaName));
        options.Projections.Add(new WalletTable(options.DatabaseSchemaName), ProjectionLifecycle.Inline, WalletTable.ProjectionName);
        options.Schema.For<MoneyCommandReceipt>();
    }
}
