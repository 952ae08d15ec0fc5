using System.Net;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Plans;

[Collection(LedgerCollection.Name)]
public class PlanEndpointTests(LedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    [Fact]
    public async Task A_plan_is_created_then_unchanged_then_versioned_when_its_prices_change()
    {
        var planId = LedgerApp.NewId("plan");

        var (created, v1) = await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan);
        var (same, unchanged) = await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"0.20\"", "\"0.2\""));
        var (updated, v2) = await _client.PutJson($"/v1/plans/{planId}",
            Api.StarterPlan.Replace("\"0.115\"", "\"0.125\"").Replace("\"taxRate\": \"0.18\"", "\"taxRate\": \"0.18\", \"effectiveFrom\": \"2030-01-01T00:00:00+05:30\""));
        var (read, current) = await _client.GetJson($"/v1/plans/{planId}");

        created.ShouldBe(HttpStatusCode.Created);
        v1!["version"]!.GetValue<int>().ShouldBe(1);
        v1["meters"]!["otp.sms"]!["tiers"]![0]!.Str("unitPrice").ShouldBe("0.20");
        v1["meters"]!["otp.sms"]!["tiers"]![1]!["upTo"].ShouldBeNull();
        v1["meters"]!["otp.whatsapp"].Str("unitPrice").ShouldBe("0.115");
        v1["meters"]!["otp.email"].Str("packagePrice").ShouldBe("5.00");
        same.ShouldBe(HttpStatusCode.OK);
        unchanged!["version"]!.GetValue<int>().ShouldBe(1);
        updated.ShouldBe(HttpStatusCode.OK);
        v2!["version"]!.GetValue<int>().ShouldBe(2);
        v2.Str("effectiveFrom").ShouldBe("2029-12-31T18:30:00Z");
        read.ShouldBe(HttpStatusCode.OK);
        current!["versions"]!.AsArray().Count.ShouldBe(2);
        current["meters"]!["otp.whatsapp"].Str("unitPrice").ShouldBe("0.125");
        current.Str("taxRate").ShouldBe("0.18");
    }

    [Fact]
    public async Task A_plan_cannot_change_currency_and_a_new_version_must_start_after_the_current_one()
    {
        var planId = LedgerApp.NewId("plan");
        await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"taxRate\": \"0.18\"", "\"taxRate\": \"0.18\", \"effectiveFrom\": \"2030-01-01T00:00:00Z\""));

        var (currency, problem) = await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("INR", "USD"));
        var (backwards, errors) = await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan.Replace("\"0.115\"", "\"0.2\""));

        currency.ShouldBe(HttpStatusCode.Conflict);
        problem.Str("type").ShouldEndWith("plan-currency-change");
        backwards.ShouldBe(HttpStatusCode.BadRequest);
        errors!["errors"]!["effectiveFrom"].ShouldNotBeNull();
    }

    public static TheoryData<string, string> InvalidPlans => new()
    {
        // body, the field the error names
        { """{ "currency": "inr", "meters": { "m": { "model": "flat", "unitPrice": "1" } } }""", "currency" },
        { """{ "currency": "INR", "meters": {} }""", "meters" },
        { """{ "currency": "INR" }""", "meters" },
        { """{ "currency": "INR", "taxRate": "-0.1", "meters": { "m": { "model": "flat", "unitPrice": "1" } } }""", "taxRate" },
        { """{ "currency": "INR", "taxRate": "1.5", "meters": { "m": { "model": "flat", "unitPrice": "1" } } }""", "taxRate" },
        { """{ "currency": "INR", "meters": { "bad meter": { "model": "flat", "unitPrice": "1" } } }""", "meters.bad meter" },
        { """{ "currency": "INR", "meters": { "m": { "model": "tiered", "unitPrice": "1" } } }""", "meters.m.model" },
        { """{ "currency": "INR", "meters": { "m": { "model": "flat" } } }""", "meters.m.unitPrice" },
        { """{ "currency": "INR", "meters": { "m": { "model": "flat", "unitPrice": "-1" } } }""", "meters.m.unitPrice" },
        { """{ "currency": "INR", "meters": { "m": { "model": "flat", "unitPrice": "0.1234567" } } }""", "meters.m.unitPrice" },
        { """{ "currency": "INR", "meters": { "m": { "model": "flat", "unitPrice": 0.5 } } }""", "meters.m.unitPrice" },
        { """{ "currency": "INR", "meters": { "m": { "model": "graduated", "tiers": [] } } }""", "meters.m.tiers" },
        { """{ "currency": "INR", "meters": { "m": { "model": "graduated", "tiers": [ { "upTo": "10", "unitPrice": "1" } ] } } }""", "meters.m.tiers[0].upTo" },
        { """{ "currency": "INR", "meters": { "m": { "model": "volume", "tiers": [ { "upTo": null, "unitPrice": "1" }, { "upTo": null, "unitPrice": "1" } ] } } }""", "meters.m.tiers[0].upTo" },
        { """{ "currency": "INR", "meters": { "m": { "model": "graduated", "tiers": [ { "upTo": "10", "unitPrice": "1" }, { "upTo": "5", "unitPrice": "1" }, { "upTo": null, "unitPrice": "1" } ] } } }""", "meters.m.tiers[1].upTo" },
        { """{ "currency": "INR", "meters": { "m": { "model": "graduated", "tiers": [ { "upTo": "10", "unitPrice": "1" }, { "upTo": "10", "unitPrice": "1" }, { "upTo": null, "unitPrice": "1" } ] } } }""", "meters.m.tiers[1].upTo" },
        { """{ "currency": "INR", "meters": { "m": { "model": "package", "packageSize": "0", "packagePrice": "5" } } }""", "meters.m.packageSize" },
        { """{ "currency": "INR", "meters": { "m": { "model": "package", "packageSize": "100" } } }""", "meters.m.packagePrice" },
        { """{ "currency": "INR", "effectiveFrom": "2026-11-25 10:00", "meters": { "m": { "model": "flat", "unitPrice": "1" } } }""", "effectiveFrom" },
    };

    [Theory]
    [MemberData(nameof(InvalidPlans))]
    public async Task An_invalid_plan_is_a_400_naming_the_field_and_is_not_stored(string body, string field)
    {
        var planId = LedgerApp.NewId("plan");

        var (status, problem) = await _client.PutJson($"/v1/plans/{planId}", body);

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        problem!["errors"]![field].ShouldNotBeNull(problem.ToJsonString());
        (await _client.GetJson($"/v1/plans/{planId}")).Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Plans_need_billing_write_to_change_and_wallets_read_to_read()
    {
        var planId = LedgerApp.NewId("plan");
        (await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan)).Status.ShouldBe(HttpStatusCode.Created);

        (await app.Client("wallets:write").PutJson($"/v1/plans/{planId}", Api.StarterPlan)).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Client("wallets:read").GetJson($"/v1/plans/{planId}")).Status.ShouldBe(HttpStatusCode.OK);
        (await app.Client("usage:write").GetJson($"/v1/plans/{planId}")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await _client.GetJson("/v1/plans/no-such-plan")).Status.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Concurrent_first_publications_of_one_plan_store_one_version()
    {
        var planId = LedgerApp.NewId("plan");

        var statuses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ => (await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan)).Status));

        statuses.Count(s => s == HttpStatusCode.Created).ShouldBe(1);
        statuses.Count(s => s == HttpStatusCode.OK).ShouldBe(5);
        var (_, plan) = await _client.GetJson($"/v1/plans/{planId}");
        plan!["versions"]!.AsArray().Count.ShouldBe(1);
    }
}
