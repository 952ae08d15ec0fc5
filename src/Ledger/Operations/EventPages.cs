using JasperFx.Events;
using Marten;
using Npgsql;

namespace Ledger.Operations;

/// <summary>
/// Pages of events for a rebuild, read with only the columns a projection uses (for an additive
/// one the type and data; otherwise also sequence, stream, version and time) and deserialized
/// straight into the event types, instead of
/// Marten's full event rows (headers with the audit chain, correlation and causation ids, user,
/// tenant). A departure from Marten's query API for speed, justified by the rebuild benchmark
/// (docs/benchmarks.md, "Rebuilds": `BENCH_MODE=rebuild ./scripts/bench.sh`).
/// </summary>
public sealed class EventPages
{
    private readonly string _schema;
    private readonly string[] _typeNames;
    private readonly Dictionary<string, Type> _types;
    private readonly Marten.Events.EventGraph _events;
    private readonly ISerializer _serializer;

    public EventPages(IDocumentStore store, IEnumerable<Type> eventTypes)
    {
        var options = (StoreOptions)store.Options;
        _events = (Marten.Events.EventGraph)options.Events;
        _serializer = options.Serializer();
        _schema = options.Events.DatabaseSchemaName;
        _types = eventTypes.ToDictionary(t => _events.EventMappingFor(t).EventTypeName, t => t, StringComparer.Ordinal);
        _typeNames = [.. _types.Keys];
    }

    /// <summary>
    /// Hands the data of each event of the read model's types with sequence in (<paramref name="after"/>,
    /// <paramref name="upTo"/>], in order, to <paramref name="each"/> as it is read, and returns how many.
    /// Nothing is kept: an event is garbage once handled, which keeps the collector's work small.
    /// </summary>
    public async Task<long> ReadDataAsync(NpgsqlConnection connection, long after, long upTo, Action<object> each, CancellationToken cancellation)
    {
        await using var command = Select(connection, "type, data", after, upTo);
        long count = 0;
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            each(_serializer.FromJson(_types[reader.GetString(0)], reader, 1));
            count++;
        }

        return count;
    }

    /// <summary>The events of the read model's types with sequence in (<paramref name="after"/>, <paramref name="upTo"/>], in order.</summary>
    public async Task<List<IEvent>> ReadAsync(NpgsqlConnection connection, long after, long upTo, CancellationToken cancellation)
    {
        await using var command = Select(connection, "seq_id, stream_id, version, timestamp, type, data", after, upTo);
        var page = new List<IEvent>((int)Math.Clamp(upTo - after, 0, ProjectionRebuilds.PageSize));
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        while (await reader.ReadAsync(cancellation))
        {
            var typeName = reader.GetString(4);
            var e = _events.BuildEvent(_serializer.FromJson(_types[typeName], reader, 5));
            e.Sequence = reader.GetInt64(0);
            e.StreamKey = reader.GetString(1);
            e.Version = reader.GetInt64(2);
            e.Timestamp = reader.GetFieldValue<DateTimeOffset>(3);
            e.EventTypeName = typeName;
            page.Add(e);
        }

        return page;
    }

    private NpgsqlCommand Select(NpgsqlConnection connection, string columns, long after, long upTo)
    {
        var command = connection.CreateCommand();
        command.CommandText = $"select {columns} from {_schema}.mt_events " +
                              "where seq_id > $1 and seq_id <= $2 and type = any($3) and is_archived = false order by seq_id";
        command.Parameters.Add(new NpgsqlParameter { Value = after });
        command.Parameters.Add(new NpgsqlParameter { Value = upTo });
        command.Parameters.Add(new NpgsqlParameter { Value = _typeNames });
        return command;
    }
}
