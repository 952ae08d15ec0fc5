using JasperFx.Events;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;
using Marten;
using Npgsql;
using Weasel.Postgresql.Tables;

namespace Ledger.Wallets;

/// <summary>
/// The wallets table: the wallet view every <c>GET /v1/wallets/{id}</c> reads, one row per
/// customer. It is a read model — no command decides on it (decisions read the write-side
/// <c>accounts</c> row) — kept inline from the wallet's events — the customer's own stream and
/// the usage it is charged — in the same transaction as those events, with one statement per kind
/// of change however many events a batch holds. <c>version</c> counts the wallet's events.
/// </summary>
public sealed class WalletTable : AdditiveProjection<WalletTable.Changes>
{
    public const string ProjectionName = "Wallets";
    /// <summary>
    /// The version of what this projection writes. Raise it when a change to the code changes the
    /// rows it gives: the next start rebuilds the table blue/green (Operations/ProjectionVersions.cs).
    /// </summary>
    public const int Version = 1;

    public const string TableName = "wallets";

    public WalletTable(string schema) : base($"{schema}.{TableName}")
    {
    }

    /// <summary>The same projection into another table of the same shape (a blue/green rebuild's new copy).</summary>
    public static WalletTable Into(string qualifiedTable) => new(qualifiedTable, into: true);

    private WalletTable(string qualifiedTable, bool into) : base(qualifiedTable)
    {
    }

    /// <summary>The events a wallet view is built from.</summary>
    public static readonly Type[] EventTypes =
    [
        typeof(CustomerRegistered), typeof(CustomerUpdated), typeof(WalletToppedUp), typeof(WalletDebited), typeof(WalletAdjusted),
        typeof(UsageRecorded), typeof(PeriodSettled),
    ];

    public static Table Definition(string schema)
    {
        var table = new Table(new Weasel.Postgresql.PostgresqlObjectName(schema, TableName, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("customer_id").AsPrimaryKey();
        table.AddColumn<string>("currency").NotNull();
        table.AddColumn("balance", "numeric(28,6)").NotNull();
        table.AddColumn("credit_limit", "numeric(28,6)").NotNull();
        table.AddColumn("low_balance_threshold", "numeric(28,6)").NotNull();
        table.AddColumn<long>("version").NotNull();
        table.AddColumn("last_changed_at", "timestamptz").NotNull();
        return table;
    }

    /// <summary>The wallets opened, and per wallet the sum of its changes, in the order of the events.</summary>
    public sealed class Changes : ISums
    {
        private readonly List<CustomerRegistered> _opened = [];
        private readonly Dictionary<string, Change> _changes = new(StringComparer.Ordinal);

        public int Count => _opened.Count + _changes.Count;

        public void Clear()
        {
            _opened.Clear();
            _changes.Clear();
        }

        public void Add(object data)
        {
            switch (data)
            {
                case CustomerRegistered r:
                    _opened.Add(r);
                    break;
                case CustomerUpdated u:
                    Track(u.CustomerId, 0m, u.UpdatedAt).Terms = (u.CreditLimit.Amount, u.LowBalanceThreshold.Amount);
                    break;
                case WalletToppedUp t:
                    Track(t.CustomerId, t.Amount.Amount, t.ToppedUpAt);
                    break;
                case WalletDebited d:
                    Track(d.CustomerId, -d.Amount.Amount, d.DebitedAt);
                    break;
                case WalletAdjusted a:
                    Track(a.CustomerId, a.Amount.Amount, a.AdjustedAt);
                    break;
                case UsageRecorded u:
                    Track(u.CustomerId, -u.Amount.Amount, u.RecordedAt);
                    break;
                case PeriodSettled p:
                    Track(p.CustomerId, -p.Amount.Amount, p.SettledAt);
                    break;
            }
        }

        private Change Track(string customerId, decimal delta, DateTimeOffset at)
        {
            if (!_changes.TryGetValue(customerId, out var change)) _changes[customerId] = change = new Change();
            change.Delta += delta;
            change.Count++;
            if (at > change.At) change.At = at;
            return change;
        }

        /// <summary>Queues the new wallets, then the changes (a wallet opened here gets its changes too).</summary>
        public void Queue(IDocumentOperations operations, string table)
        {
            if (_opened.Count > 0)
            {
                operations.QueueSqlCommand(
                    $"insert into {table} (customer_id, currency, balance, credit_limit, low_balance_threshold, version, last_changed_at) " +
                    "select c, cur, 0, cl, th, 1, at from unnest(?::text[], ?::text[], ?::numeric[], ?::numeric[], ?::timestamptz[]) as t(c, cur, cl, th, at) " +
                    "on conflict (customer_id) do nothing",
                    Param(_opened.Select(o => o.CustomerId)), Param(_opened.Select(o => o.Currency)),
                    Param(_opened.Select(o => o.CreditLimit.Amount)), Param(_opened.Select(o => o.LowBalanceThreshold.Amount)),
                    Param(_opened.Select(o => o.RegisteredAt)));
            }

            if (_changes.Count > 0)
            {
                var rows = _changes.OrderBy(c => c.Key, StringComparer.Ordinal).ToList();
                operations.QueueSqlCommand(
                    $"update {table} w set balance = w.balance + d.delta, version = w.version + d.n, " +
                    "last_changed_at = greatest(w.last_changed_at, d.at), " +
                    "credit_limit = coalesce(d.cl, w.credit_limit), low_balance_threshold = coalesce(d.th, w.low_balance_threshold) " +
                    "from unnest(?::text[], ?::numeric[], ?::bigint[], ?::timestamptz[], ?::numeric[], ?::numeric[]) as d(c, delta, n, at, cl, th) " +
                    "where w.customer_id = d.c",
                    Param(rows.Select(r => r.Key)), Param(rows.Select(r => r.Value.Delta)), Param(rows.Select(r => r.Value.Count)),
                    Param(rows.Select(r => r.Value.At)), Param(rows.Select(r => r.Value.Terms?.CreditLimit)),
                    Param(rows.Select(r => r.Value.Terms?.Threshold)));
            }
        }
    }

    // Marten binds these as typed arrays; the SQL casts them so the types never depend on inference.
    private static string[] Param(IEnumerable<string> values) => values.ToArray();

    private static decimal[] Param(IEnumerable<decimal> values) => values.ToArray();

    private static decimal?[] Param(IEnumerable<decimal?> values) => values.ToArray();

    private static long[] Param(IEnumerable<long> values) => values.ToArray();

    private static DateTimeOffset[] Param(IEnumerable<DateTimeOffset> values) => values.Select(v => v.ToUniversalTime()).ToArray();

    private sealed class Change
    {
        public decimal Delta;
        public long Count;
        public DateTimeOffset At = DateTimeOffset.MinValue;
        public (decimal CreditLimit, decimal Threshold)? Terms;
    }

    /// <summary>Reads a wallet view (for the API; no decision reads it).</summary>
    public static async Task<Wallet?> ReadAsync(NpgsqlDataSource dataSource, string schema, string customerId, CancellationToken cancellation)
    {
        await using var command = dataSource.CreateCommand(
            $"select currency, balance, credit_limit, low_balance_threshold, version, last_changed_at from {schema}.{TableName} where customer_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = customerId });
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        if (!await reader.ReadAsync(cancellation)) return null;

        var currency = reader.GetString(0);
        return new Wallet(StreamKeys.Customer(customerId), customerId, new Money(reader.GetDecimal(1), currency),
            new Money(reader.GetDecimal(2), currency), new Money(reader.GetDecimal(3), currency),
            new DateTimeOffset(reader.GetDateTime(5), TimeSpan.Zero)) { Version = reader.GetInt64(4) };
    }
}
