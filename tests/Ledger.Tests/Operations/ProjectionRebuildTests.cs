using System.Net;
using System.Text.Json.Nodes;
using Ledger.Hosting;
using Ledger.Metering.Rollups;
using Ledger.Operations;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;
using Ledger.Wallets;
using Marten;
using Marten.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Ledger.Tests.Operations;

/// <summary>
/// Every read model comes back identical when rebuilt from the events through the admin API:
/// the wallets and rollups tables, and the invoice, customer and plan documents.
/// </summary>
[Collection(LedgerCollection.Name)]
public class ProjectionRebuildTests(LedgerApp app)
{
    public static readonly string[] Tables = [WalletTable.TableName, UsageRollups.TableName, "mt_doc_invoice", "mt_doc_customer", "mt_doc_plan"];

    [Fact]
    public async Task Rebuilding_every_read_model_through_the_admin_api_gives_the_same_rows()
    {
        var admin = app.Client();
        var customer = await admin.NewCustomerAsync(creditLimit: "5.00");
        await admin.TopUpAsync(customer, "100.00");
        (await admin.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "d1", "amount": "7.25", "reason": "x" }""")).Status.ShouldBe(HttpStatusCode.Created);
        (await admin.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "a1", "amount": "-1.10", "reason": "y" }""")).Status.ShouldBe(HttpStatusCode.Created);
        (await admin.PostJson("/v1/usage", $$"""
            { "events": [
              { "id": "u1", "customerId": "{{customer}}", "meter": "otp.sms", "quantity": "3", "occurredAt": "2026-10-05T10:00:00Z", "dimensions": { "country": "IN" } },
              { "id": "u2", "customerId": "{{customer}}", "meter": "otp.whatsapp", "quantity": "7", "occurredAt": "2026-10-06T10:00:00Z" } ] }
            """)).Status.ShouldBe(HttpStatusCode.OK);
        (await admin.PostJson($"/v1/billing/periods/2026-10/close?customerId={customer}", "{}")).Status.ShouldBe(HttpStatusCode.OK);
        var before = await SnapshotAsync(app);
        before.Values.ShouldAllBe(rows => rows.Count > 0);

        foreach (var name in new[] { "Wallets", "UsageRollups", "Invoices", "Customers", "Plans" })
        {
            var rebuild = await RebuildAsync(admin, name);
            rebuild.Str("status").ShouldBe("completed", rebuild.ToJsonString());
            // Every event of the read model's types replayed once (the collection's tests run one at a time).
            var model = app.Host.Services.GetRequiredService<ReadModels>().Find(name)!;
            await using var session = app.Store.QuerySession();
            var events = await session.Events.QueryAllRawEvents().Where(e => e.EventTypesAre(model.EventTypes)).LongCountAsync();
            rebuild["processed"]!.GetValue<long>().ShouldBe(events);
            rebuild["total"]!.GetValue<long>().ShouldBe(events);
        }

        var after = await SnapshotAsync(app);
        foreach (var table in Tables) after[table].ShouldBe(before[table], table);
    }

    [Fact]
    public async Task The_admin_endpoints_list_every_read_model_and_need_the_admin_scope()
    {
        await app.Store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));
        var (status, list) = await app.Client().GetJson("/v1/admin/projections");
        status.ShouldBe(HttpStatusCode.OK);
        var items = list!["items"]!.AsArray();
        items.Select(i => i.Str("name")).ShouldBe(["Wallets", "UsageRollups", "Invoices", "Customers", "Plans"]);
        items.Select(i => i.Str("lifecycle")).ShouldBe(["inline", "async", "inline", "inline", "inline"]);
        // The daemon's usage-rollups agent runs on this host: its connections carry the host's node name.
        items.Select(i => i!["node"]?.GetValue<string>()).ShouldBe([null, LedgerHost.NodeName(app.Host.Services.GetRequiredService<IConfiguration>()), null, null, null]);
        foreach (var item in items)
        {
            item.Str("status").ShouldBe("running");
            item!["lag"]!.GetValue<long>().ShouldBe(0);
            item["position"]!.GetValue<long>().ShouldBe(item["highWaterMark"]!.GetValue<long>());
        }

        // The command line lists the same state (`rebuild --list`).
        var output = new StringWriter();
        var original = Console.Out;
        try
        {
            Console.SetOut(output);
            (await RebuildCommand.RunAsync(app.Host.Services, ["--list"])).ShouldBe(0);
        }
        finally
        {
            Console.SetOut(original);
        }

        var rollupsLine = output.ToString().Split('\n').Single(l => l.StartsWith("UsageRollups ", StringComparison.Ordinal));
        rollupsLine.ShouldContain(" async ");
        rollupsLine.ShouldContain(LedgerHost.NodeName(app.Host.Services.GetRequiredService<IConfiguration>()));

        var reader = app.Client(Scopes.WalletsRead + " " + Scopes.FinanceRead + " " + Scopes.BillingWrite);
        (await reader.GetJson("/v1/admin/projections")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await reader.PostJson("/v1/admin/projections/Wallets/rebuild", "{}")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Client(scopes: null).GetJson("/v1/admin/projections")).Status.ShouldBe(HttpStatusCode.Unauthorized);
        (await app.Client().PostJson("/v1/admin/projections/Nope/rebuild", "{}")).Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Verify_reports_a_row_changed_behind_the_ledgers_back_and_replaces_nothing()
    {
        var admin = app.Client();
        var customer = await admin.NewCustomerAsync();
        await admin.TopUpAsync(customer, "10.00");
        await ChangeOneRowAsync($"update {app.Schema}.wallets set balance = 999 where customer_id = $1", customer);

        var verified = await RebuildAsync(admin, "Wallets", "verify");

        verified.Str("mode").ShouldBe("verify");
        verified.Str("status").ShouldBe("completed");
        verified["differenceCount"]!.GetValue<long>().ShouldBe(2); // the corrupted row, and the row the events give
        var differences = verified["differences"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        differences.ShouldContain(d => d.StartsWith("live, not in the replay: ", StringComparison.Ordinal) && d.Contains(customer) && d.Contains("999"));
        differences.ShouldContain(d => d.StartsWith("in the replay, not live: ", StringComparison.Ordinal) && d.Contains(customer) && d.Contains("10.000000"));
        (await admin.WalletAsync(customer)).Str("balance").ShouldBe("999.000000"); // verify replaced nothing

        (await RebuildAsync(admin, "Wallets")).Str("status").ShouldBe("completed");
        (await admin.WalletAsync(customer)).Str("balance").ShouldBe("10.000000");
        (await RebuildAsync(admin, "Wallets", "verify"))["differenceCount"]!.GetValue<long>().ShouldBe(0);
    }

    [Fact]
    public async Task Verify_reports_a_document_changed_behind_the_ledgers_back_and_a_rebuild_puts_it_right()
    {
        var admin = app.Client();
        var customer = await admin.NewCustomerAsync();
        await ChangeOneRowAsync($"update {app.Schema}.mt_doc_customer set data = jsonb_set(data, '{{name}}', '\"Mallory\"') where data ->> 'customerId' = $1", customer);

        var verified = await RebuildAsync(admin, "Customers", "verify");
        verified["differenceCount"]!.GetValue<long>().ShouldBe(2);
        var differences = verified["differences"]!.AsArray().Select(d => d!.GetValue<string>()).ToList();
        differences.ShouldContain(d => d.StartsWith("live, not in the replay: ", StringComparison.Ordinal) && d.Contains(customer) && d.Contains("Mallory"));
        differences.ShouldContain(d => d.StartsWith("in the replay, not live: ", StringComparison.Ordinal) && d.Contains(customer) && d.Contains("Acme Pvt Ltd"));
        (await admin.GetJson($"/v1/customers/{customer}")).Body!.Str("name").ShouldBe("Mallory"); // verify replaced nothing

        (await RebuildAsync(admin, "Customers")).Str("status").ShouldBe("completed");
        (await admin.GetJson($"/v1/customers/{customer}")).Body!.Str("name").ShouldBe("Acme Pvt Ltd");
        (await RebuildAsync(admin, "Customers", "verify"))["differenceCount"]!.GetValue<long>().ShouldBe(0);
    }

    [Fact]
    public async Task A_hole_in_the_event_sequence_held_by_a_transaction_is_waited_for_and_a_hole_that_stays_is_passed()
    {
        var admin = app.Client();
        var customer = await admin.NewCustomerAsync();
        await admin.TopUpAsync(customer, "1000.00");
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();

        // A transaction takes a sequence number and stays open (as a slow writer would), then rolls back:
        // a hole that stays. More than a page of events follows it, so the rebuild meets it while paging.
        var holder = await connection.BeginTransactionAsync();
        // (A writer has a transaction id before it takes its number: the append writes a row first.)
        await using (var id = new NpgsqlCommand("select txid_current()", connection, holder)) await id.ExecuteScalarAsync();
        long hole;
        await using (var take = new NpgsqlCommand($"select nextval('{app.Schema}.mt_events_sequence')", connection, holder))
            hole = (long)(await take.ExecuteScalarAsync())!;
        for (var batch = 0; batch < 3; batch++)
        {
            await admin.RecordUsageAsync(UsageApi.Batch(Enumerable.Range(0, 2500)
                .Select(i => UsageApi.Event($"hole-{batch}-{i}", customer, "otp.sms", "1", "2026-11-02T10:00:00Z"))));
        }

        // (The daemon waits at the hole too: the rollups are not compared here.)
        var before = await SnapshotAsync(app, waitForDaemon: false);
        var rebuilding = RebuildAsync(admin, "Wallets");
        // Longer than a time-based skip of holes would wait: only the open transaction keeps it waiting.
        await Task.Delay(4000);
        rebuilding.IsCompleted.ShouldBeFalse("the rebuild waits while the transaction that holds the hole is open");
        await using (var progress = new NpgsqlConnection(LedgerApp.ConnectionString))
        {
            await progress.OpenAsync();
            await using var position = new NpgsqlCommand($"select position from {app.Schema}.projection_rebuilds where projection = 'Wallets' and status = 'running'", progress);
            ((long)(await position.ExecuteScalarAsync())!).ShouldBeLessThan(hole, "the rebuild has not gone past the hole");
        }

        await holder.RollbackAsync();

        var rebuild = await rebuilding;
        rebuild.Str("status").ShouldBe("completed", rebuild.ToJsonString());
        var after = await SnapshotAsync(app);
        after[WalletTable.TableName].ShouldBe(before[WalletTable.TableName]);
    }

    [Fact]
    public async Task A_document_copy_given_its_events_again_after_a_rolled_back_switch_applies_none_twice()
    {
        // A plan with two versions: its document lists each once.
        var admin = app.Client();
        var planId = "retry-" + Guid.NewGuid().ToString("N")[..8];
        (await admin.PutJson($"/v1/plans/{planId}", Api.StarterPlan)).Status.ShouldBe(HttpStatusCode.Created);
        (await admin.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"0.115\"", "\"0.12\""))).Status.ShouldBeOneOf(HttpStatusCode.OK, HttpStatusCode.Created);

        var model = app.Host.Services.GetRequiredService<ReadModels>().Find("Plans")!;
        var copy = $"{app.Schema}.mt_doc_plan_retry_{Guid.NewGuid():N}"[..60];
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand($"create table {copy} (like {app.Schema}.mt_doc_plan including all)", connection))
            await create.ExecuteNonQueryAsync();
        try
        {
            var events = await new EventPages(app.Store, model.EventTypes).ReadAsync(connection, 0, long.MaxValue, CancellationToken.None);
            var projection = model.Into(copy);
            // The switch's first attempt: applied, then its transaction rolled back (never saved).
            await using (var rolledBack = app.Store.LightweightSession())
                await projection.ApplyAsync(rolledBack, events, CancellationToken.None);
            // The second attempt: the same events again, saved.
            await using (var saved = app.Store.LightweightSession())
            {
                await projection.ApplyAsync(saved, events, CancellationToken.None);
                await saved.SaveChangesAsync();
            }

            async Task<string> DocumentIn(string table)
            {
                await using var read = new NpgsqlCommand($"select data::text from {table} where id = $1", connection);
                read.Parameters.Add(new NpgsqlParameter { Value = Ledger.Common.StreamKeys.Plan(planId) });
                return (string)(await read.ExecuteScalarAsync())!;
            }

            var live = await DocumentIn($"{app.Schema}.mt_doc_plan");
            JsonNode.Parse(live)!["versions"]!.AsArray().Count.ShouldBe(2);
            (await DocumentIn(copy)).ShouldBe(live);
        }
        finally
        {
            await using var drop = new NpgsqlCommand($"drop table if exists {copy}", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_table_built_by_an_older_version_of_its_projection_is_rebuilt_blue_green_and_its_version_recorded()
    {
        var admin = app.Client();
        var customer = await admin.NewCustomerAsync();
        await admin.TopUpAsync(customer, "42.00");
        var versions = app.Host.Services.GetRequiredService<Ledger.Operations.ProjectionVersions>();
        (await versions.CheckAsync(CancellationToken.None)).ShouldBeEmpty(); // every table is at its code's version

        // As if the wallets table and the invoice documents had been built by version 0 of their projections' code.
        await using (var connection = new NpgsqlConnection(LedgerApp.ConnectionString))
        {
            await connection.OpenAsync();
            await using var older = new NpgsqlCommand($"update {app.Schema}.projection_versions set version = 0 where projection in ('Wallets', 'Invoices')", connection);
            (await older.ExecuteNonQueryAsync()).ShouldBe(2);
        }

        var (_, listed) = await admin.GetJson("/v1/admin/projections");
        listed!["items"]!.AsArray().Single(i => i.Str("name") == "Wallets")!["version"]!.GetValue<int>().ShouldBe(0);
        var before = await SnapshotAsync(app);

        var started = await versions.CheckAsync(CancellationToken.None);
        started.Select(r => r.Projection).ShouldBe(["Wallets", "Invoices"]);
        var rebuilds = app.Host.Services.GetRequiredService<Ledger.Operations.ProjectionRebuilds>();
        foreach (var rebuild in started)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            Ledger.Operations.RebuildStatus? status;
            do
            {
                await Task.Delay(50);
                status = await rebuilds.GetAsync(rebuild.Id, CancellationToken.None);
            } while (status!.Status == "running" && DateTime.UtcNow < deadline);

            status.Status.ShouldBe("completed", status.Error);
        }

        var after = await SnapshotAsync(app);
        after[WalletTable.TableName].ShouldBe(before[WalletTable.TableName]);
        after["mt_doc_invoice"].ShouldBe(before["mt_doc_invoice"]);
        // The switched tables are what Marten declares (names of tables, keys and indexes): a node starting next changes nothing.
        (await app.Store.Storage.Database.CreateMigrationAsync()).Difference.ShouldBe(Weasel.Core.SchemaPatchDifference.None);
        (await admin.WalletAsync(customer)).Str("balance").ShouldBe("42.000000");
        (_, listed) = await admin.GetJson("/v1/admin/projections");
        listed!["items"]!.AsArray().Single(i => i.Str("name") == "Wallets")!["version"]!.GetValue<int>().ShouldBe(WalletTable.Version);
        listed["items"]!.AsArray().Single(i => i.Str("name") == "Invoices")!["version"]!.GetValue<int>().ShouldBe(Ledger.Invoicing.Invoice.ProjectionVersion);
        (await versions.CheckAsync(CancellationToken.None)).ShouldBeEmpty();
    }

    [Fact]
    public async Task One_customers_rows_are_rebuilt_from_the_command_line_and_no_one_elses()
    {
        var admin = app.Client();
        var (mine, theirs) = (await admin.NewCustomerAsync(), await admin.NewCustomerAsync());
        await admin.TopUpAsync(mine, "30.00");
        await admin.TopUpAsync(theirs, "30.00");
        await admin.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("one-1", mine, "otp.sms", "2", "2026-11-02T10:00:00Z")));
        foreach (var customer in new[] { mine, theirs })
            await ChangeOneRowAsync($"update {app.Schema}.wallets set balance = 999 where customer_id = $1", customer);
        var output = new StringWriter();
        var original = Console.Out;
        int exit;
        try
        {
            Console.SetOut(output);
            exit = await RebuildCommand.RunAsync(app.Host.Services, ["Wallets", "--customer", mine]);
        }
        finally
        {
            Console.SetOut(original);
        }

        exit.ShouldBe(0, output.ToString());
        output.ToString().ShouldContain($"Wallets for {mine}: completed");
        output.ToString().ShouldContain("events/s");
        var rebuiltMine = await admin.WalletAsync(mine);
        rebuiltMine.Str("balance").ShouldNotBe("999.000000");
        (await admin.WalletAsync(theirs)).Str("balance").ShouldBe("999.000000"); // only the one asked for
        (await RebuildAsync(admin, "Wallets")).Str("status").ShouldBe("completed");
        (await admin.WalletAsync(theirs)).Str("balance").ShouldBe("30.000000");
        // The one customer's row is what a rebuild of the whole table gives it.
        var wholeMine = await admin.WalletAsync(mine);
        (wholeMine.Str("balance"), wholeMine["version"]!.GetValue<long>()).ShouldBe((rebuiltMine.Str("balance"), rebuiltMine["version"]!.GetValue<long>()));
    }

    /// <summary>Starts a rebuild (or a verification) through the admin API and polls its Location until it ends.</summary>
    public static async Task<JsonNode> RebuildAsync(HttpClient admin, string name, string mode = "rebuild")
    {
        using var response = await admin.PostAsync($"/v1/admin/projections/{name}/rebuild?mode={mode}", null);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var location = response.Headers.Location!.ToString();
        location.ShouldStartWith($"/v1/admin/projections/{name}/rebuilds/");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var (status, body) = await admin.GetJson(location);
            status.ShouldBe(HttpStatusCode.OK);
            if (body.Str("status") != "running" || DateTime.UtcNow > deadline) return body!;
            await Task.Delay(50);
        }
    }

    /// <summary>Every row of every read model, as text, sorted.</summary>
    /// <summary>Every read model's rows, once the async daemon has caught up with the events (the rollups are its) unless told not to wait.</summary>
    public static async Task<Dictionary<string, List<string>>> SnapshotAsync(LedgerApp app, bool waitForDaemon = true)
    {
        if (waitForDaemon) await app.Store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(60));
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        var snapshot = new Dictionary<string, List<string>>();
        foreach (var table in Tables)
        {
            await using var command = connection.CreateCommand();
            // Documents compare by their data: Marten's own columns (version ids, timestamps) change on every store.
            command.CommandText = table.StartsWith("mt_doc_", StringComparison.Ordinal)
                ? $"select id || ' ' || data::text from {app.Schema}.{table} order by 1"
                : $"select t::text from {app.Schema}.{table} t order by 1";
            var rows = new List<string>();
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
            snapshot[table] = rows;
        }

        return snapshot;
    }

    /// <summary>Changes one customer's row behind the ledger's back (<c>$1</c> is the customer).</summary>
    private static async Task ChangeOneRowAsync(string sql, string customer)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add(new NpgsqlParameter { Value = customer });
        (await command.ExecuteNonQueryAsync()).ShouldBe(1);
    }
}
