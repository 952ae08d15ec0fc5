using System.Text.Json.Nodes;
using Ledger.Audit;
using Ledger.Tests.Infrastructure;
using Npgsql;

namespace Ledger.Tests.Audit;

/// <summary>
/// Rows changed behind the ledger's back, with SQL, are each found by verify and named by stream
/// and version. Every case puts the rows back afterwards (the collection's other tests share the
/// schema) and checks that verify is clean again.
/// </summary>
[Collection(LedgerCollection.Name)]
public class TamperTests(LedgerApp app)
{
    private readonly AuditTrailTests _audit = new(app);

    public static TheoryData<string> Cases => ["updated data", "deleted middle row", "deleted last row", "deleted whole stream", "swapped versions", "inserted row"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_row_changed_behind_the_ledgers_back_is_reported_with_its_stream_and_version(string tamper)
    {
        var customer = await _audit.SeedAsync();
        var stream = $"customer/{customer}";
        (await _audit.VerifyAsync(customer))["ok"]!.GetValue<bool>().ShouldBeTrue();

        var events = $"{app.Schema}.mt_events";
        var saved = await SnapshotAsync("mt_events", "stream_id = $1", stream);
        var savedStreams = await SnapshotAsync("mt_streams", "id = $1", stream);
        (string Sql, string Kind, long Version) change = tamper switch
        {
            "updated data" => ($"update {events} set data = jsonb_set(data, '{{amount,amount}}', '1000000') where stream_id = $1 and version = 2", "chain", 2),
            "deleted middle row" => ($"delete from {events} where stream_id = $1 and version = 3", "chain", 3),
            "deleted last row" => ($"delete from {events} where stream_id = $1 and version = 5", "head", 5),
            "deleted whole stream" => ($"delete from {events} where stream_id = $1; delete from {app.Schema}.mt_streams where id = $1", "head", 5),
            "swapped versions" => ($"update {events} set version = -1 where stream_id = $1 and version = 2; " +
                                   $"update {events} set version = 2 where stream_id = $1 and version = 3; " +
                                   $"update {events} set version = 3 where stream_id = $1 and version = -1", "chain", 2),
            "inserted row" => ($"insert into {events} select * from json_populate_record(null::{events}, (select (to_jsonb(e) || " +
                               $"jsonb_build_object('seq_id', nextval('{app.Schema}.mt_events_sequence'), 'id', gen_random_uuid(), 'version', 6))::json " +
                               $"from {events} e where stream_id = $1 and version = 5))", "head", 6),
            _ => throw new ArgumentOutOfRangeException(nameof(tamper)),
        };

        try
        {
            await ExecuteAsync(change.Sql, stream);
            var result = await _audit.VerifyAsync(customer);
            result["ok"]!.GetValue<bool>().ShouldBeFalse(tamper);
            var mismatches = result["mismatches"]!.AsArray();
            var named = mismatches.Where(m => m.Str("kind") == change.Kind && m.Str("subject") == stream && m!["version"]?.GetValue<long>() == change.Version).ToList();
            named.ShouldNotBeEmpty($"{tamper}: {result.ToJsonString()}");
            named.ShouldAllBe(m => m!["detail"] != null && m["expected"] != null && m["found"] != null && m.Str("expected") != m.Str("found"));
        }
        finally
        {
            await ExecuteAsync($"delete from {events} where stream_id = $1", stream);
            await RestoreAsync("mt_streams", "id = $1", stream, savedStreams);
            await RestoreAsync("mt_events", "stream_id = $1", stream, saved);
        }

        (await _audit.VerifyAsync(customer))["ok"]!.GetValue<bool>().ShouldBeTrue($"{tamper}: rows put back");
    }

    [Fact]
    public async Task A_wallet_row_or_invoice_document_that_differs_from_a_replay_is_reported_expected_against_found()
    {
        var customer = await _audit.SeedAsync();
        var balance = (await app.Client().WalletAsync(customer)).Str("balance");
        var wallets = $"{app.Schema}.wallets";
        await ExecuteAsync($"update {wallets} set balance = balance + 1 where customer_id = $1", customer);
        try
        {
            var result = await _audit.VerifyAsync(customer);
            result["ok"]!.GetValue<bool>().ShouldBeFalse();
            var wallet = result["mismatches"]!.AsArray().Single(m => m.Str("kind") == "wallet");
            wallet.Str("subject").ShouldBe(customer);
            wallet.Str("expected").ShouldNotBe(wallet.Str("found"));
            wallet.Str("expected").ShouldContain(balance);
            wallet.Str("found").ShouldContain((decimal.Parse(balance, System.Globalization.CultureInfo.InvariantCulture) + 1).ToString("0.000000", System.Globalization.CultureInfo.InvariantCulture));
        }
        finally
        {
            await ExecuteAsync($"update {wallets} set balance = balance - 1 where customer_id = $1", customer);
        }

        (await _audit.VerifyAsync(customer))["ok"]!.GetValue<bool>().ShouldBeTrue();
    }

    [Fact]
    public async Task The_verify_command_finds_the_same_and_exits_3()
    {
        var customer = await _audit.SeedAsync();
        var output = new StringWriter();
        var original = Console.Out;
        int clean, tampered;
        var events = $"{app.Schema}.mt_events";
        var stream = $"customer/{customer}";
        var saved = await SnapshotAsync("mt_events", "stream_id = $1", stream);
        try
        {
            Console.SetOut(output);
            clean = await VerifyCommand.RunAsync(app.Host.Services, ["--customer", customer]);
            await ExecuteAsync($"update {events} set data = data || '{{\"reason\":\"rewritten\"}}' where stream_id = $1 and version = 3", stream);
            tampered = await VerifyCommand.RunAsync(app.Host.Services, ["--customer", customer]);
        }
        finally
        {
            Console.SetOut(original);
            await ExecuteAsync($"delete from {events} where stream_id = $1", stream);
            await RestoreAsync("mt_events", "stream_id = $1", stream, saved);
        }

        clean.ShouldBe(0, output.ToString());
        tampered.ShouldBe(3, output.ToString());
        output.ToString().ShouldContain($"chain {stream} v3: The event does not match its hash");
    }

    private async Task ExecuteAsync(string sql, string key)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var batch = new NpgsqlBatch(connection);
        foreach (var statement in sql.Split("; "))
        {
            var command = new NpgsqlBatchCommand(statement);
            if (statement.Contains("$1")) command.Parameters.Add(new NpgsqlParameter { Value = key });
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
    }

    private async Task<List<string>> SnapshotAsync(string table, string where, string key)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"select row_to_json(t)::text from {app.Schema}.{table} t where {where}", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        rows.ShouldNotBeEmpty();
        return rows;
    }

    private async Task RestoreAsync(string table, string where, string key, List<string> rows)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var delete = new NpgsqlCommand($"delete from {app.Schema}.{table} where {where}", connection);
        delete.Parameters.Add(new NpgsqlParameter { Value = key });
        await delete.ExecuteNonQueryAsync();
        foreach (var row in rows)
        {
            await using var insert = new NpgsqlCommand($"insert into {app.Schema}.{table} select * from json_populate_record(null::{app.Schema}.{table}, $1::json)", connection);
            insert.Parameters.Add(new NpgsqlParameter { Value = row });
            await insert.ExecuteNonQueryAsync();
        }
    }
}
