using System.Globalization;
using System.Net;
using System.Text;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;

namespace Ledger.Tests.Wallets;

/// <summary>Wallet statements for finance: opening + Σ entries = closing, usage per batch with its ids, the same numbers in CSV.</summary>
[Collection(LedgerCollection.Name)]
public class StatementTests(LedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    private static decimal D(string text) => decimal.Parse(text, CultureInfo.InvariantCulture);

    [Fact]
    public async Task A_statement_lists_every_movement_with_its_balance_and_actor_and_closes_on_the_sum()
    {
        var customer = await _client.NewCustomerAsync(creditLimit: "50.00");
        await app.Client(Scopes.Admin, subject: "ops-alice").TopUpAsync(customer, "100.00", id: "tu-1");
        (await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "7.25", "reason": "fee" }""")).Status.ShouldBe(HttpStatusCode.Created);
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-1", customer, "otp.whatsapp", "3", now), UsageApi.Event("u-2", customer, "otp.whatsapp", "1", now)));
        await _client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-3", customer, "otp.whatsapp", "2", now)));
        (await _client.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "adj-1", "amount": "-1.10", "reason": "fix" }""")).Status.ShouldBe(HttpStatusCode.Created);

        var (status, statement) = await app.Client(Scopes.FinanceRead).GetJson($"/v1/wallets/{customer}/statement");

        status.ShouldBe(HttpStatusCode.OK);
        var entries = statement!["entries"]!.AsArray();
        entries.Select(e => (e.Str("type"), e.Str("amount"))).ShouldBe([
            ("top_up", "100.000000"), ("debit", "-7.250000"), ("usage", "-0.460000"), ("usage", "-0.230000"), ("adjustment", "-1.100000")]);
        entries[0].Str("actor").ShouldBe("ops-alice");
        entries[2]!["usageIds"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["u-1", "u-2"]);
        entries[3]!["usageIds"]!.AsArray().Select(i => i!.GetValue<string>()).ShouldBe(["u-3"]);
        var running = D(statement.Str("openingBalance"));
        foreach (var entry in entries)
        {
            running += D(entry.Str("amount"));
            D(entry.Str("balanceAfter")).ShouldBe(running);
        }

        D(statement.Str("closingBalance")).ShouldBe(running);
        statement.Str("closingBalance").ShouldBe((await _client.WalletAsync(customer)).Str("balance"));

        // From the debit on: the top-up is in the opening balance.
        var from = Uri.EscapeDataString(entries[1].Str("recordedAt"));
        var (_, later) = await _client.GetJson($"/v1/wallets/{customer}/statement?from={from}");
        later.Str("openingBalance").ShouldBe("100.000000");
        later!["entries"]!.AsArray().Count.ShouldBe(4);
        later.Str("closingBalance").ShouldBe(statement.Str("closingBalance"));
    }

    [Fact]
    public async Task The_csv_statement_parses_back_to_the_json_numbers()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "20.00");
        (await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "2.50", "reason": "fee, with a comma" }""")).Status.ShouldBe(HttpStatusCode.Created);
        var (_, json) = await _client.GetJson($"/v1/wallets/{customer}/statement");

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/wallets/{customer}/statement");
        request.Headers.Accept.ParseAdd("text/csv");
        using var response = await _client.SendAsync(request);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/csv");
        var csv = await response.Content.ReadAsStringAsync();

        using var reader = CsvHelper.CsvReader.Create(Encoding.UTF8.GetBytes(csv), new CsvHelper.CsvReaderOptions());
        var rows = new List<CsvRow>();
        while (reader.Read())
        {
            var row = new CsvRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(6));
            if (row.type != "type") rows.Add(row);
        }

        rows.Select(r => r.type).ShouldBe(["opening_balance", "top_up", "debit", "closing_balance"]);
        rows[0].balanceAfter.ShouldBe(json.Str("openingBalance"));
        rows[^1].balanceAfter.ShouldBe(json.Str("closingBalance"));
        var entries = json!["entries"]!.AsArray();
        for (var i = 0; i < entries.Count; i++)
        {
            (rows[i + 1].id, rows[i + 1].amount, rows[i + 1].balanceAfter).ShouldBe((entries[i].Str("id"), entries[i].Str("amount"), entries[i].Str("balanceAfter")));
        }
    }

    [Fact]
    public async Task A_statement_needs_finance_read_a_known_wallet_and_valid_times()
    {
        var customer = await _client.NewCustomerAsync();
        (await app.Client(Scopes.WalletsRead).GetJson($"/v1/wallets/{customer}/statement")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await _client.GetJson("/v1/wallets/nobody-here/statement")).Status.ShouldBe(HttpStatusCode.NotFound);
        var (bad, problem) = await _client.GetJson($"/v1/wallets/{customer}/statement?from=yesterday");
        bad.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["from"].ShouldNotBeNull();
    }

#pragma warning disable IDE1006
    private sealed record CsvRow(string type, string id, string amount, string balanceAfter, string actor);
#pragma warning restore IDE1006
}
