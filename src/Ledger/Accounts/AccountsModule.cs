using Marten;

namespace Ledger.Accounts;

public static class AccountsModule
{
    /// <summary>The accounts table is the write side's own: no projection is registered on it, so no rebuild touches it.</summary>
    public static void Configure(StoreOptions options) =>
        options.Storage.ExtendedSchemaObjects.Add(AccountTable.Definition(options.DatabaseSchemaName));
}
