using System.Net;
using Ledger.Metering.Rollups;
using Ledger.Tests.Infrastructure;
using Ledger.Wallets;
using Marten;
using Npgsql;

namespace Ledger.Tests.Operations;

/// <summary>
/// The set-based projections (wallets, usage rollups) come back identical when rebuilt from the
/// events: the table is emptied first, then every event is replayed.
/// </summary>
[Collection(LedgerCollection.Name)]
public class ProjectionRebuildTests(LedgerApp app)
{
    [Fact]
    public async Task Rebuilding_the_wallets_and_rollups_from_the_events_gives_the_same_rows()
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
        var wallet = await admin.WalletAsync(customer);
        var walletsBefore = await RowsAsync(WalletTable.TableName);
        var rollupsBefore = await RowsAsync(UsageRollups.TableName);
        walletsBefore.ShouldNotBeEmpty();
        rollupsBefore.ShouldNotBeEmpty();

        using (var daemon = await app.Store.BuildProjectionDaemonAsync())
        {
            await daemon.RebuildProjectionAsync(WalletTable.ProjectionName, CancellationToken.None);
            await daemon.RebuildProjectionAsync(UsageRollups.ProjectionName, CancellationToken.None);
        }

        (await RowsAsync(WalletTable.TableName)).ShouldBe(walletsBefore);
        (await RowsAsync(UsageRollups.TableName)).ShouldBe(rollupsBefore);
        var rebuilt = await admin.WalletAsync(customer);
        rebuilt.Str("balance").ShouldBe(wallet.Str("balance"));
        rebuilt["version"]!.GetValue<long>().ShouldBe(wallet["version"]!.GetValue<long>());
    }

    private async Task<List<string>> RowsAsync(string table)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"select t::text from {app.Schema}.{table} t order by 1";
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
        return rows;
    }
}
