using JasperFx.Events.Projections;
using Marten;

namespace Ledger.Wallets;

public static class WalletsModule
{
    public static void Configure(StoreOptions options)
    {
        // Inline: the balance a debit decides on, and the one GET answers, is committed with the event.
        options.Projections.Add<WalletProjection>(ProjectionLifecycle.Inline);
        options.Schema.For<MoneyCommandReceipt>();
    }
}
