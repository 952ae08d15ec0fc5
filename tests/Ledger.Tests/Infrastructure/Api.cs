using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Ledger.Tests.Infrastructure;

/// <summary>Small helpers that speak the public contract over real HTTP.</summary>
public static class Api
{
    public const string StarterPlan = """
        { "currency": "INR", "taxRate": "0.18",
          "meters": {
            "otp.sms":      { "model": "graduated", "tiers": [ { "upTo": "10000", "unitPrice": "0.20" },
                                                              { "upTo": null,    "unitPrice": "0.15" } ] },
            "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" },
            "otp.email":    { "model": "package", "packageSize": "1000", "packagePrice": "5.00" },
            "mau":          { "model": "volume", "tiers": [ { "upTo": "1000", "unitPrice": "1.00" },
                                                           { "upTo": null,   "unitPrice": "0.80" } ] } } }
        """;

    public static StringContent Json(string json, string mediaType = "application/json") => new(json, Encoding.UTF8, mediaType);

    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendJson(this HttpClient client, HttpMethod method, string url, string? json = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (json is not null) request.Content = Json(json);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body)> PutJson(this HttpClient client, string url, string json) =>
        client.SendJson(HttpMethod.Put, url, json);

    public static Task<(HttpStatusCode Status, JsonNode? Body)> PostJson(this HttpClient client, string url, string json) =>
        client.SendJson(HttpMethod.Post, url, json);

    public static Task<(HttpStatusCode Status, JsonNode? Body)> GetJson(this HttpClient client, string url) =>
        client.SendJson(HttpMethod.Get, url);

    /// <summary>Creates a plan and a customer on it; returns the customer id.</summary>
    public static async Task<string> NewCustomerAsync(this HttpClient client, string creditLimit = "0.00", string threshold = "100.00",
        string currency = "INR")
    {
        var planId = LedgerApp.NewId("plan");
        var plan = StarterPlan.Replace("\"INR\"", $"\"{currency}\"");
        var (planStatus, _) = await client.PutJson($"/v1/plans/{planId}", plan);
        planStatus.ShouldBe(HttpStatusCode.Created);

        var customerId = LedgerApp.NewId("cust");
        var (status, body) = await client.PutJson($"/v1/customers/{customerId}", $$"""
            { "name": "Acme Pvt Ltd", "planId": "{{planId}}", "currency": "{{currency}}",
              "creditLimit": "{{creditLimit}}", "lowBalanceThreshold": "{{threshold}}", "billingTimeZone": "Asia/Kolkata" }
            """);
        status.ShouldBe(HttpStatusCode.Created, body?.ToJsonString());
        return customerId;
    }

    public static async Task<JsonNode> TopUpAsync(this HttpClient client, string customerId, string amount, string? id = null)
    {
        var (status, body) = await client.PostJson($"/v1/wallets/{customerId}/top-ups",
            $$"""{ "id": "{{id ?? LedgerApp.NewId("tu")}}", "amount": "{{amount}}", "reference": "pay" }""");
        status.ShouldBe(HttpStatusCode.Created, body?.ToJsonString());
        return body!;
    }

    public static async Task<JsonNode> WalletAsync(this HttpClient client, string customerId, string? asOf = null)
    {
        var url = asOf is null ? $"/v1/wallets/{customerId}" : $"/v1/wallets/{customerId}?asOf={Uri.EscapeDataString(asOf)}";
        var (status, body) = await client.GetJson(url);
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        return body!;
    }

    public static string Str(this JsonNode? node, string name) => node?[name]?.GetValue<string>() ?? throw new ShouldAssertException($"No '{name}' in {node?.ToJsonString()}");

    public static JsonSerializerOptions Web { get; } = new(JsonSerializerDefaults.Web);
}
