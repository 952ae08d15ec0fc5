using Ledger.Common;
using Marten;
using Npgsql;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Ledger.Accounts;

/// <summary>
/// The <c>accounts</c> table: one write-side row per customer (<see cref="Account"/>). Every writer
/// of a customer — money commands, usage, registration, period close — locks the row first, in
/// one global order (<c>order by customer_id</c>), decides on what it holds, and writes it back
/// in the same transaction as its events. No projection reads or rebuilds it.
/// </summary>
public static class AccountTable
{
    public const string TableName = "accounts";

    private const string Columns =
        "customer_id, name, plan_id, currency, balance, credit_limit, low_balance_threshold, billing_time_zone, created_at, updated_at, " +
        "wallet_version, stream_version, closed_periods";

    public static Table Definition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("customer_id").AsPrimaryKey();
        table.AddColumn<string>("name").NotNull();
        table.AddColumn<string>("plan_id").NotNull();
        table.AddColumn<string>("currency").NotNull();
        table.AddColumn("balance", "numeric(28,6)").NotNull();
        table.AddColumn("credit_limit", "numeric(28,6)").NotNull();
        table.AddColumn("low_balance_threshold", "numeric(28,6)").NotNull();
        table.AddColumn<string>("billing_time_zone").NotNull();
        table.AddColumn("created_at", "timestamptz").NotNull();
        table.AddColumn("updated_at", "timestamptz").NotNull();
        table.AddColumn<long>("wallet_version").NotNull();
        table.AddColumn<long>("stream_version").NotNull();
        table.AddColumn("closed_periods", "text[]").NotNull();
        return table;
    }

    /// <summary>
    /// For a handler: begins the session's transaction (if not begun yet), locks one customer's row
    /// until it ends and reads it; null when there is no such customer.
    /// </summary>
    public static async Task<Account?> LockAsync(IDocumentSession session, string customerId, CancellationToken cancellation)
    {
        await session.BeginTransactionAsync(cancellation);
        return await LockAsync(session.Connection!, session.DocumentStore.Options.DatabaseSchemaName, customerId, cancellation);
    }

    /// <summary>Locks one customer's row until the transaction ends and reads it; null when there is no such customer.</summary>
    public static async Task<Account?> LockAsync(NpgsqlConnection connection, string schema, string customerId, CancellationToken cancellation) =>
        (await LockManyAsync(connection, schema, [customerId], cancellation)).GetValueOrDefault(customerId);

    /// <summary>Locks the rows of these customers in customer-id order (so writers never deadlock) and reads them.</summary>
    public static async Task<Dictionary<string, Account>> LockManyAsync(NpgsqlConnection connection, string schema,
        IReadOnlyCollection<string> customerIds, CancellationToken cancellation)
    {
        if (customerIds.Count == 0) return new Dictionary<string, Account>(StringComparer.Ordinal);
        await using var command = connection.CreateCommand();
        command.CommandText = $"select {Columns} from {schema}.{TableName} where customer_id = any($1) order by customer_id for update";
        command.Parameters.Add(new NpgsqlParameter { Value = customerIds.ToArray() });
        return await ReadAsync(command, cancellation);
    }

    /// <summary>Reads rows without locking them (usage validation, the list of customers to close).</summary>
    public static async Task<Dictionary<string, Account>> ReadManyAsync(NpgsqlDataSource dataSource, string schema,
        IReadOnlyCollection<string>? customerIds, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(customerIds is null
            ? $"select {Columns} from {schema}.{TableName}"
            : $"select {Columns} from {schema}.{TableName} where customer_id = any($1)");
        if (customerIds is not null) command.Parameters.Add(new NpgsqlParameter { Value = customerIds.ToArray() });
        return await ReadAsync(command, cancellation);
    }

    /// <summary>Queues the account as it is after a decision; written when the session saves, in its transaction.</summary>
    public static void Save(IDocumentOperations operations, string schema, Account account) =>
        operations.QueueSqlCommand(
            $"insert into {schema}.{TableName} ({Columns}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::text[]) " +
            "on conflict (customer_id) do update set name = excluded.name, plan_id = excluded.plan_id, balance = excluded.balance, " +
            "credit_limit = excluded.credit_limit, low_balance_threshold = excluded.low_balance_threshold, updated_at = excluded.updated_at, " +
            "wallet_version = excluded.wallet_version, stream_version = excluded.stream_version, closed_periods = excluded.closed_periods",
            account.CustomerId, account.Name, account.PlanId, account.Currency, account.Balance.Amount, account.CreditLimit.Amount,
            account.LowBalanceThreshold.Amount, account.BillingTimeZone, account.CreatedAt.ToUniversalTime(), account.UpdatedAt.ToUniversalTime(),
            account.WalletVersion, account.StreamVersion, account.ClosedPeriods.ToArray());

    /// <summary>
    /// Queues the usage charges of a group of batches: one statement for every customer, however
    /// many events (the rows are already locked by <see cref="LockManyAsync"/>).
    /// </summary>
    public static void ChargeUsage(IDocumentOperations operations, string schema, IReadOnlyCollection<(string CustomerId, decimal Amount, long Events)> charges)
    {
        if (charges.Count == 0) return;
        operations.QueueSqlCommand(
            $"update {schema}.{TableName} a set balance = a.balance - c.amount, wallet_version = a.wallet_version + c.n " +
            "from unnest(?::text[], ?::numeric[], ?::bigint[]) as c(id, amount, n) where a.customer_id = c.id",
            charges.Select(c => c.CustomerId).ToArray(), charges.Select(c => c.Amount).ToArray(), charges.Select(c => c.Events).ToArray());
    }

    private static async Task<Dictionary<string, Account>> ReadAsync(NpgsqlCommand command, CancellationToken cancellation)
    {
        var accounts = new Dictionary<string, Account>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            var currency = reader.GetString(3);
            var account = new Account(reader.GetString(0), reader.GetString(1), reader.GetString(2), new Money(reader.GetDecimal(4), currency),
                new Money(reader.GetDecimal(5), currency), new Money(reader.GetDecimal(6), currency), reader.GetString(7),
                reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9), reader.GetInt64(10), reader.GetInt64(11),
                reader.GetFieldValue<string[]>(12));
            accounts[account.CustomerId] = account;
        }

        return accounts;
    }
}
