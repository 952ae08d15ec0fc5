using System.Net;
using System.Text;
using Ledger.Tests.Infrastructure;
using Ledger.Wallets;
using Marten;

namespace Ledger.Tests.Wallets;

[Collection(LedgerCollection.Name)]
public class WalletEndpointTests(LedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    [Fact]
    public async Task A_top_up_credits_the_wallet_and_a_replay_answers_the_same()
    {
        var customer = await _client.NewCustomerAsync();
        var body = $$"""{ "id": "tu-1", "amount": "500.00", "reference": "pay_8fK2" }""";

        var (created, first) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", body);
        var (replayed, second) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", body);

        created.ShouldBe(HttpStatusCode.Created);
        first.Str("id").ShouldBe("tu-1");
        first.Str("balance").ShouldBe("500.000000");
        first!["version"]!.GetValue<long>().ShouldBe(2);
        replayed.ShouldBe(HttpStatusCode.OK);
        second!.ToJsonString().ShouldBe(first.ToJsonString());
        (await _client.WalletAsync(customer)).Str("balance").ShouldBe("500.000000");
    }

    [Fact]
    public async Task The_same_id_with_other_content_is_a_conflict_and_changes_nothing()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "500.00", id: "tu-1");

        var (otherAmount, problem) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1", "amount": "501.00", "reference": "pay" }""");
        var (otherKind, _) = await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "tu-1", "amount": "500.00", "reason": "pay" }""");

        otherAmount.ShouldBe(HttpStatusCode.Conflict);
        problem.Str("type").ShouldEndWith("idempotency-conflict");
        otherKind.ShouldBe(HttpStatusCode.Conflict);
        var wallet = await _client.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("500.000000");
        wallet!["version"]!.GetValue<long>().ShouldBe(2);
    }

    [Fact]
    public async Task A_debit_below_the_credit_limit_is_refused_with_422_and_nothing_is_stored()
    {
        var customer = await _client.NewCustomerAsync(creditLimit: "50.00");
        await _client.TopUpAsync(customer, "100.00");

        var (ok, debited) = await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "150.00", "reason": "setup fee" }""");
        var (refused, problem) = await _client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-2", "amount": "0.01", "reason": "one paisa too far" }""");

        ok.ShouldBe(HttpStatusCode.Created);
        debited.Str("balance").ShouldBe("-50.000000");
        refused.ShouldBe(HttpStatusCode.UnprocessableEntity);
        problem.Str("type").ShouldEndWith("insufficient-funds");
        problem!["status"]!.GetValue<int>().ShouldBe(422);
        var wallet = await _client.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("-50.000000");
        wallet.Str("available").ShouldBe("0.000000");
        wallet.Str("status").ShouldBe("overdrawn");
    }

    [Fact]
    public async Task A_refused_debit_leaves_no_receipt_so_the_same_id_may_succeed_later()
    {
        var customer = await _client.NewCustomerAsync();
        var debit = """{ "id": "db-1", "amount": "30.00", "reason": "setup fee" }""";

        (await _client.PostJson($"/v1/wallets/{customer}/debits", debit)).Status.ShouldBe(HttpStatusCode.UnprocessableEntity);
        await _client.TopUpAsync(customer, "30.00");
        var (status, body) = await _client.PostJson($"/v1/wallets/{customer}/debits", debit);

        status.ShouldBe(HttpStatusCode.Created);
        body.Str("balance").ShouldBe("0.000000");
    }

    [Fact]
    public async Task Adjustments_are_signed_and_need_billing_write()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "200.00");

        var (credit, _) = await _client.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "adj-1", "amount": "12.00", "reason": "goodwill" }""");
        var (debit, body) = await _client.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "adj-2", "amount": "-112.00", "reason": "duplicate charge INV-2026-10-acme" }""");
        var walletsWriter = app.Client("wallets:write");
        var (forbidden, _) = await walletsWriter.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "adj-3", "amount": "1.00", "reason": "x" }""");

        credit.ShouldBe(HttpStatusCode.Created);
        debit.ShouldBe(HttpStatusCode.Created);
        body.Str("balance").ShouldBe("100.000000");
        forbidden.ShouldBe(HttpStatusCode.Forbidden);
        (await _client.WalletAsync(customer)).Str("status").ShouldBe("low");
    }

    [Fact]
    public async Task The_wallet_reports_status_and_available_funds()
    {
        var customer = await _client.NewCustomerAsync(creditLimit: "25.00", threshold: "100.00");

        var fresh = await _client.WalletAsync(customer);
        await _client.TopUpAsync(customer, "100.01");
        var active = await _client.WalletAsync(customer);

        fresh.Str("customerId").ShouldBe(customer);
        fresh.Str("currency").ShouldBe("INR");
        fresh.Str("balance").ShouldBe("0.000000");
        fresh.Str("creditLimit").ShouldBe("25.00");
        fresh.Str("available").ShouldBe("25.000000");
        fresh.Str("status").ShouldBe("low");
        active.Str("status").ShouldBe("active");
        active.Str("available").ShouldBe("125.010000");
        active!["version"]!.GetValue<long>().ShouldBe(2);
    }

    [Fact]
    public async Task Unknown_wallets_are_404()
    {
        var (get, problem) = await _client.GetJson("/v1/wallets/nobody-here");
        var (post, _) = await _client.PostJson("/v1/wallets/nobody-here/top-ups", """{ "id": "tu-1", "amount": "1.00" }""");

        get.ShouldBe(HttpStatusCode.NotFound);
        problem.Str("type").ShouldEndWith("not-found");
        post.ShouldBe(HttpStatusCode.NotFound);
    }

    public static TheoryData<string, string, string> BadBodies => new()
    {
        // endpoint, body, the field the error names
        { "top-ups", """{ "id": "tu-x", "amount": "0" }""", "amount" },
        { "top-ups", """{ "id": "tu-x", "amount": "-5.00" }""", "amount" },
        { "top-ups", """{ "id": "tu-x", "amount": "5.001" }""", "amount" },
        { "top-ups", """{ "id": "tu-x", "amount": 5.5 }""", "amount" },
        { "top-ups", """{ "id": "tu-x", "amount": true }""", "amount" },
        { "top-ups", """{ "id": "tu-x", "amount": "five" }""", "amount" },
        { "top-ups", """{ "id": "tu-x" }""", "amount" },
        { "top-ups", """{ "id": "tu x", "amount": "5.00" }""", "id" },
        { "top-ups", """{ "id": 12, "amount": "5.00" }""", "id" },
        { "top-ups", """{ "amount": "5.00" }""", "id" },
        { "top-ups", """{ "id": "tu-x", "amount": "5.00" """, "$" },
        { "top-ups", """[1, 2]""", "$" },
        { "top-ups", "null", "$" },
        { "debits", """{ "id": "db-x", "amount": "5.00" }""", "reason" },
        { "debits", """{ "id": "db-x", "amount": "0.00", "reason": "x" }""", "amount" },
        { "adjustments", """{ "id": "adj-x", "amount": "0", "reason": "x" }""", "amount" },
        { "adjustments", """{ "id": "adj-x", "amount": "-1.234", "reason": "x" }""", "amount" },
        { "adjustments", """{ "id": "adj-x", "amount": "1.00" }""", "reason" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task Bad_input_is_a_400_naming_the_field_and_stores_nothing(string endpoint, string body, string field)
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "100.00");

        using var response = await _client.PostAsync($"/v1/wallets/{customer}/{endpoint}", Api.Json(body));
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, text);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        var problem = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        problem["errors"]![field].ShouldNotBeNull(text);
        text.ShouldNotContain("Ledger.");
        text.ShouldNotContain("System.");
        text.ShouldNotContain("   at ");
        await ShouldHaveStoredNothingMoreAsync(customer);
    }

    [Fact]
    public async Task Wrong_media_type_and_huge_bodies_are_refused_and_store_nothing()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "100.00");

        using var text = await _client.PostAsync($"/v1/wallets/{customer}/top-ups",
            new StringContent("""{ "id": "tu-x", "amount": "5.00" }""", Encoding.UTF8, "text/plain"));
        var huge = $$"""{ "id": "tu-x", "amount": "5.00", "reference": "{{new string('x', 2 * 1024 * 1024)}}" }""";
        using var tooLarge = await _client.PostAsync($"/v1/wallets/{customer}/top-ups", Api.Json(huge));

        text.StatusCode.ShouldBe(HttpStatusCode.UnsupportedMediaType);
        tooLarge.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        (await tooLarge.Content.ReadAsStringAsync()).ShouldContain("payload-too-large");
        await ShouldHaveStoredNothingMoreAsync(customer);
    }

    /// <summary>The customer's stream holds only registration and the one top-up.</summary>
    private async Task ShouldHaveStoredNothingMoreAsync(string customer)
    {
        await using var session = app.Store.QuerySession();
        var events = await session.Events.FetchStreamAsync(Ledger.Common.StreamKeys.Customer(customer));
        events.Count.ShouldBe(2);
        var receipts = await session.Query<MoneyCommandReceipt>().Where(r => r.Id.StartsWith(customer + "/")).CountAsync();
        receipts.ShouldBe(1);
    }
}
