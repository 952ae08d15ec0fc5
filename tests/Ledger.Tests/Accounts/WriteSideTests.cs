using System.Net;
using CsCheck;
using Ledger.Accounts;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Ledger.Tests.Accounts;

/// <summary>
/// The write-side state (account rows, period running totals) always equals the fold of the
/// events it was written beside, whatever mix of commands reached it; and a row changed behind the
/// ledger's back is reported.
/// </summary>
[Collection(LedgerCollection.Name)]
public class WriteSideTests(LedgerApp app)
{
    private abstract record Op;

    private sealed record TopUp(int Cents, bool Replay) : Op;

    private sealed record Debit(int Cents) : Op;

    private sealed record Adjust(int Cents) : Op;

    private sealed record Usage(int Quantity, string Meter, bool BackDated) : Op;

    private sealed record ChangeTerms(int CreditLimit) : Op;

    private sealed record Close(string Period) : Op;

    private static readonly Gen<Op> Ops = Gen.OneOf<Op>(
        Gen.Select(Gen.Int[1, 50_000], Gen.Bool, (c, r) => new TopUp(c, r)),
        Gen.Int[1, 20_000].Select(c => new Debit(c)),
        Gen.Int[-10_000, 10_000].Where(c => c != 0).Select(c => new Adjust(c)),
        Gen.Select(Gen.Int[1, 3_000], Gen.Int[0, 3].Select(i => new[] { "otp.sms", "otp.whatsapp", "otp.email", "mau" }[i]), Gen.Bool, (q, m, b) => new Usage(q, m, b)),
        Gen.Int[0, 500].Select(c => new ChangeTerms(c)),
        Gen.Bool.Select(b => new Close(b ? "2026-09" : "2026-10")));

    [Fact]
    public async Task After_any_mix_of_commands_the_write_side_equals_the_fold_of_its_events()
    {
        var client = app.Client();
        var dataSource = app.Host.Services.GetRequiredService<NpgsqlDataSource>();
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");

        await Ops.Array[5, 30].SampleAsync(async ops =>
        {
            var customer = await client.NewCustomerAsync(creditLimit: "10.00");
            for (var i = 0; i < ops.Length; i++)
            {
                var (status, body) = ops[i] switch
                {
                    TopUp t => await client.PostJson($"/v1/wallets/{customer}/top-ups",
                        $$"""{ "id": "tu-{{(t.Replay ? 0 : i)}}", "amount": "{{t.Cents / 100m}}" }"""),
                    Debit d => await client.PostJson($"/v1/wallets/{customer}/debits", $$"""{ "id": "db-{{i}}", "amount": "{{d.Cents / 100m}}", "reason": "r" }"""),
                    Adjust a => await client.PostJson($"/v1/wallets/{customer}/adjustments", $$"""{ "id": "adj-{{i}}", "amount": "{{a.Cents / 100m}}", "reason": "r" }"""),
                    Usage u => await UsageAsync(client, UsageApi.Batch(UsageApi.Event($"u-{i}", customer, u.Meter, u.Quantity.ToString(),
                        u.BackDated ? "2026-10-12T08:00:00Z" : now))),
                    ChangeTerms c => await client.PutJson($"/v1/customers/{customer}", $$"""
                        { "name": "Acme {{c.CreditLimit}}", "planId": "{{(await client.GetJson($"/v1/customers/{customer}")).Body.Str("planId")}}", "currency": "INR",
                          "creditLimit": "{{c.CreditLimit}}.00", "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }
                        """),
                    Close c => await client.PostJson($"/v1/billing/periods/{c.Period}/close?customerId={customer}", "{}"),
                    _ => throw new InvalidOperationException(),
                };
                // Refusals are part of the mix: a debit beyond the credit limit (422), and a replayed
                // top-up id with another amount (409 idempotency-conflict) — nothing else.
                if (ops[i] is TopUp { Replay: true } && status == HttpStatusCode.Conflict) body.Str("type").ShouldEndWith("idempotency-conflict");
                else if (ops[i] is Debit) status.ShouldBeOneOf(HttpStatusCode.Created, HttpStatusCode.UnprocessableEntity);
                else status.ShouldBeOneOf(HttpStatusCode.OK, HttpStatusCode.Created);
            }

            (await WriteSideCheck.DifferencesAsync(app.Store, dataSource, CancellationToken.None, customer)).ShouldBeEmpty();
            var wallet = await client.WalletAsync(customer);
            var account = (await AccountTable.ReadManyAsync(dataSource, app.Schema, [customer], CancellationToken.None))[customer];
            (wallet.Str("balance"), wallet.Version()).ShouldBe((account.Balance.ToLedgerString(), account.WalletVersion));
        }, iter: 12, threads: 1);
    }

    private static async Task<(HttpStatusCode, System.Text.Json.Nodes.JsonNode?)> UsageAsync(HttpClient client, string batch)
    {
        var (status, body, _) = await client.PostUsageAsync(batch);
        return (status, body);
    }

    [Fact]
    public async Task An_account_row_or_running_total_changed_behind_the_ledgers_back_is_reported()
    {
        var client = app.Client();
        var dataSource = app.Host.Services.GetRequiredService<NpgsqlDataSource>();
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "10.00");
        await client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-1", customer, "otp.sms", "5", "2026-10-12T08:00:00Z")));
        (await WriteSideCheck.DifferencesAsync(app.Store, dataSource, CancellationToken.None, customer)).ShouldBeEmpty();

        foreach (var sql in new[]
                 {
                     $"update {app.Schema}.accounts set balance = balance + 1000 where customer_id = $1",
                     $"update {app.Schema}.usage_period_totals set quantity = 0 where customer_id = $1",
                 })
        {
            await using var tamper = dataSource.CreateCommand(sql);
            tamper.Parameters.Add(new NpgsqlParameter { Value = customer });
            await tamper.ExecuteNonQueryAsync();
        }

        var differences = await WriteSideCheck.DifferencesAsync(app.Store, dataSource, CancellationToken.None, customer);
        differences.Count.ShouldBe(2);
        differences[0].ShouldStartWith($"account {customer}: expected {{balance 9.000000");
        differences[0].ShouldContain("found {balance 1009.000000");
        differences[1].ShouldBe($"period total {customer}/otp.sms/2026-10: expected 5, found 0");

        // Put the rows back, so checks of the whole store in other tests see a consistent write side.
        foreach (var sql in new[]
                 {
                     $"update {app.Schema}.accounts set balance = balance - 1000 where customer_id = $1",
                     $"update {app.Schema}.usage_period_totals set quantity = 5 where customer_id = $1",
                 })
        {
            await using var repair = dataSource.CreateCommand(sql);
            repair.Parameters.Add(new NpgsqlParameter { Value = customer });
            await repair.ExecuteNonQueryAsync();
        }

        (await WriteSideCheck.DifferencesAsync(app.Store, dataSource, CancellationToken.None, customer)).ShouldBeEmpty();
    }
}
