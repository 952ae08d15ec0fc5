using System.Diagnostics;
using System.Globalization;
using Npgsql;
using NpgsqlTypes;

/// <summary>
/// What a durable inbox costs PostgreSQL per record, the reason the ledger's Kafka consumer does
/// without one (docs/kafka.md): N envelope rows shaped like Wolverine's incoming envelopes
/// (uuid key, status, owner, ~300-byte body, type, timestamps) inserted in batches as they are
/// received, marked handled, then deleted — the three statements a durable listener's row goes
/// through — timed against the same PostgreSQL the ledger uses, fsync on.
/// </summary>
public static class InboxCostBenchmark
{
    public static async Task<int> RunAsync(Settings settings)
    {
        var rows = int.Parse(Environment.GetEnvironmentVariable("BENCH_EVENTS") ?? "200000", CultureInfo.InvariantCulture);
        const int batch = 500;
        await using var db = NpgsqlDataSource.Create(settings.Database);
        await using (var create = db.CreateCommand(
            "drop table if exists bench_inbox; create table bench_inbox (id uuid primary key, status varchar not null, owner_id int not null, " +
            "execution_time timestamptz, attempts int not null default 0, body bytea not null, message_type varchar not null, " +
            "received_at varchar, keep_until timestamptz)"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var body = new byte[300];
        Random.Shared.NextBytes(body);
        var clock = Stopwatch.StartNew();
        for (var done = 0; done < rows; done += batch)
        {
            var ids = Enumerable.Range(0, batch).Select(_ => Guid.CreateVersion7()).ToArray();
            await using (var insert = db.CreateCommand(
                "insert into bench_inbox (id, status, owner_id, body, message_type, received_at) " +
                "select id, 'Incoming', 1, $2, 'ledger.usage', 'kafka://topic/ledger.usage.v1' from unnest($1::uuid[]) as t(id)"))
            {
                insert.Parameters.Add(new NpgsqlParameter { Value = ids });
                insert.Parameters.Add(new NpgsqlParameter { Value = body, NpgsqlDbType = NpgsqlDbType.Bytea });
                await insert.ExecuteNonQueryAsync();
            }

            await using (var handled = db.CreateCommand("update bench_inbox set status = 'Handled', keep_until = now() where id = any($1)"))
            {
                handled.Parameters.Add(new NpgsqlParameter { Value = ids });
                await handled.ExecuteNonQueryAsync();
            }

            await using (var delete = db.CreateCommand("delete from bench_inbox where id = any($1)"))
            {
                delete.Parameters.Add(new NpgsqlParameter { Value = ids });
                await delete.ExecuteNonQueryAsync();
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine();
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | --- |");
        Console.WriteLine($"| durable-inbox rows: insert + mark handled + delete, batches of {batch} | {rows:N0} rows in {seconds:0.0} s = **{seconds * 1e6 / rows:0.0} µs per record** ({rows / seconds:N0} records/s, alone on the machine) |");
        return 0;
    }
}
