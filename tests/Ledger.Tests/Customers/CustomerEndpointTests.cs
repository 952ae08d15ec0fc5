using System.Net;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Customers;

[Collection(LedgerCollection.Name)]
public class CustomerEndpointTests(LedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    private async Task<string> NewPlanAsync(string currency = "INR")
    {
        var planId = LedgerApp.NewId("plan");
        (await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("INR", currency))).Status.ShouldBe(HttpStatusCode.Created);
        return planId;
    }

    private static string Body(string planId, string name = "Acme Pvt Ltd", string currency = "INR", string creditLimit = "0.00",
        string threshold = "100.00", string zone = "Asia/Kolkata") =>
        $$"""
        { "name": "{{name}}", "planId": "{{planId}}", "currency": "{{currency}}",
          "creditLimit": "{{creditLimit}}", "lowBalanceThreshold": "{{threshold}}", "billingTimeZone": "{{zone}}" }
        """;

    [Fact]
    public async Task Registering_opens_the_wallet_replays_are_200_and_mutable_fields_update()
    {
        var plan = await NewPlanAsync();
        var other = await NewPlanAsync();
        var id = LedgerApp.NewId("cust");

        var (created, customer) = await _client.PutJson($"/v1/customers/{id}", Body(plan));
        var (same, _) = await _client.PutJson($"/v1/customers/{id}", Body(plan));
        var (updated, changed) = await _client.PutJson($"/v1/customers/{id}", Body(other, name: "Acme Ltd", creditLimit: "50.00", threshold: "10.00"));
        var (read, current) = await _client.GetJson($"/v1/customers/{id}");
        var wallet = await _client.WalletAsync(id);

        created.ShouldBe(HttpStatusCode.Created);
        customer.Str("id").ShouldBe(id);
        customer.Str("billingTimeZone").ShouldBe("Asia/Kolkata");
        same.ShouldBe(HttpStatusCode.OK);
        updated.ShouldBe(HttpStatusCode.OK);
        changed.Str("name").ShouldBe("Acme Ltd");
        read.ShouldBe(HttpStatusCode.OK);
        current.Str("planId").ShouldBe(other);
        current.Str("creditLimit").ShouldBe("50.00");
        wallet.Str("creditLimit").ShouldBe("50.00");
        wallet.Str("available").ShouldBe("50.000000");
        wallet.Str("status").ShouldBe("low");
    }

    [Fact]
    public async Task Changing_currency_or_time_zone_is_a_conflict()
    {
        var plan = await NewPlanAsync();
        var usdPlan = await NewPlanAsync("USD");
        var id = LedgerApp.NewId("cust");
        (await _client.PutJson($"/v1/customers/{id}", Body(plan))).Status.ShouldBe(HttpStatusCode.Created);

        var (currency, problem) = await _client.PutJson($"/v1/customers/{id}", Body(usdPlan, currency: "USD"));
        var (zone, _) = await _client.PutJson($"/v1/customers/{id}", Body(plan, zone: "UTC"));

        currency.ShouldBe(HttpStatusCode.Conflict);
        problem.Str("type").ShouldEndWith("currency-change");
        zone.ShouldBe(HttpStatusCode.Conflict);
    }

    public static TheoryData<string, string> InvalidCustomers => new()
    {
        { """{ "planId": "p", "currency": "INR" }""", "name" },
        { """{ "name": "A", "currency": "INR" }""", "planId" },
        { """{ "name": "A", "planId": "p", "currency": "Rupees" }""", "currency" },
        { """{ "name": "A", "planId": "p", "currency": "INR", "creditLimit": "-1.00" }""", "creditLimit" },
        { """{ "name": "A", "planId": "p", "currency": "INR", "creditLimit": "1.001" }""", "creditLimit" },
        { """{ "name": "A", "planId": "p", "currency": "INR", "lowBalanceThreshold": 1.5 }""", "lowBalanceThreshold" },
        { """{ "name": "A", "planId": "p", "currency": "INR", "billingTimeZone": "Mars/Olympus" }""", "billingTimeZone" },
        { """{ "name": "A", "planId": "no-such-plan", "currency": "INR" }""", "planId" },
    };

    [Theory]
    [MemberData(nameof(InvalidCustomers))]
    public async Task An_invalid_customer_is_a_400_and_is_not_stored(string body, string field)
    {
        var plan = await NewPlanAsync();
        var id = LedgerApp.NewId("cust");

        var (status, problem) = await _client.PutJson($"/v1/customers/{id}", body.Replace("\"p\"", $"\"{plan}\""));

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        problem!["errors"]![field].ShouldNotBeNull(problem.ToJsonString());
        (await _client.GetJson($"/v1/customers/{id}")).Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_plan_in_another_currency_is_refused()
    {
        var usdPlan = await NewPlanAsync("USD");
        var id = LedgerApp.NewId("cust");

        var (status, problem) = await _client.PutJson($"/v1/customers/{id}", Body(usdPlan));

        status.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["planId"].ShouldNotBeNull();
    }

    [Fact]
    public async Task An_invalid_customer_id_is_refused()
    {
        var plan = await NewPlanAsync();

        var (status, problem) = await _client.PutJson("/v1/customers/bad%20id", Body(plan));

        status.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["customerId"].ShouldNotBeNull();
    }

    [Fact]
    public async Task Concurrent_first_registrations_of_one_customer_store_it_once()
    {
        var plan = await NewPlanAsync();
        var id = LedgerApp.NewId("cust");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ => (await _client.PutJson($"/v1/customers/{id}", Body(plan))).Status));

        statuses.Count(s => s == HttpStatusCode.Created).ShouldBe(1);
        statuses.Count(s => s == HttpStatusCode.OK).ShouldBe(5);
        await using var session = app.Store.QuerySession();
        (await session.Events.FetchStreamAsync(Ledger.Common.StreamKeys.Customer(id))).Count.ShouldBe(1);
    }
}
