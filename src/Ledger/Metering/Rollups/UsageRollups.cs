using JasperFx.Events;
using Ledger.Common;
using Marten;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Ledger.Metering.Rollups;

/// <summary>
/// Hourly usage buckets (UTC) per customer, meter and dimension value, with quantity and rated
/// amount; day and month answers are sums of hours. Kept by the async daemon from the usage
/// events, one upsert per page of events. Dimension '' holds the totals without grouping.
/// </summary>
public sealed class UsageRollups : AdditiveProjection<UsageRollups.Buckets>
{
    public const string ProjectionName = "UsageRollups";
    /// <summary>
    /// The version of what this projection writes. Raise it when a change to the code changes the
    /// rows it gives: the next start rebuilds the table blue/green (Operations/ProjectionVersions.cs).
    /// Version 2: kept by the async daemon instead of inline (a table built inline has no daemon
    /// progression, so the daemon applies its events again; the rebuild replaces it).
    /// </summary>
    public const int Version = 2;

    public const string TableName = "usage_rollups";
    public const string LateDimension = "late";

    public UsageRollups(string schema) : base($"{schema}.{TableName}")
    {
    }

    /// <summary>The same projection into another table of the same shape (a blue/green rebuild's new copy).</summary>
    public static UsageRollups Into(string qualifiedTable) => new(qualifiedTable, into: true);

    private UsageRollups(string qualifiedTable, bool into) : base(qualifiedTable)
    {
    }

    public static Table Definition(string schema)
    {
        var table = new Table(new PostgresqlObjectName(schema, TableName, Weasel.Postgresql.SchemaUtils.IdentifierUsage.General));
        table.AddColumn<string>("customer_id").AsPrimaryKey();
        table.AddColumn<string>("dimension").AsPrimaryKey();
        table.AddColumn<string>("meter").AsPrimaryKey();
        table.AddColumn("bucket_start", "timestamptz").AsPrimaryKey();
        table.AddColumn<string>("dimension_value").AsPrimaryKey();
        table.AddColumn("quantity", "numeric(28,6)").NotNull();
        table.AddColumn("amount", "numeric(28,6)").NotNull();
        return table;
    }

    /// <summary>Quantity and amount per customer, dimension, meter, hour and dimension value.</summary>
    public sealed class Buckets : ISums
    {
        private readonly Dictionary<(string Customer, string Dimension, string Meter, DateTimeOffset Hour, string Value), (decimal Quantity, decimal Amount)> _sums = new();

        public int Count => _sums.Count;

        public void Clear() => _sums.Clear();

        public void Add(object data)
        {
            if (data is not UsageRecorded u) return;
            var hour = HourOf(u.OccurredAt);
            Add((u.CustomerId, "", u.Meter, hour, ""), u.Quantity, u.Amount.Amount);
            foreach (var (dimension, value) in u.Dimensions) Add((u.CustomerId, dimension, u.Meter, hour, value), u.Quantity, u.Amount.Amount);
            // Late usage (billed in a later period than its own) is findable with groupBy=late.
            if (u.Late) Add((u.CustomerId, LateDimension, u.Meter, hour, "true"), u.Quantity, u.Amount.Amount);
        }

        private void Add((string, string, string, DateTimeOffset, string) key, decimal quantity, decimal amount)
        {
            // One lookup per add: a rebuild adds a million events or more.
            ref var sum = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sums, key, out _);
            sum = (sum.Quantity + quantity, sum.Amount + amount);
        }

        public void Queue(IDocumentOperations operations, string table)
        {
            if (_sums.Count == 0) return;
            var rows = _sums.ToList();
            operations.QueueSqlCommand(
                $"insert into {table} as r (customer_id, dimension, meter, bucket_start, dimension_value, quantity, amount) " +
                "select * from unnest(?::text[], ?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::numeric[], ?::numeric[]) " +
                "on conflict (customer_id, dimension, meter, bucket_start, dimension_value) " +
                "do update set quantity = r.quantity + excluded.quantity, amount = r.amount + excluded.amount",
                rows.Select(r => r.Key.Customer).ToArray(), rows.Select(r => r.Key.Dimension).ToArray(), rows.Select(r => r.Key.Meter).ToArray(),
                rows.Select(r => r.Key.Hour).ToArray(), rows.Select(r => r.Key.Value).ToArray(),
                rows.Select(r => r.Value.Quantity).ToArray(), rows.Select(r => r.Value.Amount).ToArray());
        }
    }

    public static DateTimeOffset HourOf(DateTimeOffset instant)
    {
        var utc = instant.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
    }
}
