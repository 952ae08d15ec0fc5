using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using JasperFx.Events;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using Marten;
using Marten.Events;

namespace Ledger.Tests.Metering;

/// <summary>Helpers for the usage endpoints and for reading what ingestion stored.</summary>
public static class UsageApi
{
    public const string CloudEventsBatch = "application/cloudevents-batch+json";

    /// <summary>One usage event as JSON; <paramref name="country"/> becomes the only dimension.</summary>
    public static string Event(string id, string customerId, string meter, string quantity, string occurredAt, string? country = null) =>
        $$"""{ "id": "{{id}}", "customerId": "{{customerId}}", "meter": "{{meter}}", "quantity": "{{quantity}}", "occurredAt": "{{occurredAt}}"{{(country is null ? "" : $$""", "dimensions": { "country": "{{country}}" }""")}} }""";

    public static string Batch(IEnumerable<string> events) => $$"""{ "events": [ {{string.Join(", ", events)}} ] }""";

    public static string Batch(params string[] events) => Batch((IEnumerable<string>)events);

    public static async Task<(HttpStatusCode Status, JsonNode? Body, string? MediaType)> PostUsageAsync(this HttpClient client, string body,
        string mediaType = "application/json")
    {
        using var response = await client.PostAsync("/v1/usage", new StringContent(body, Encoding.UTF8, mediaType));
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text), response.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>Posts a batch that must be accepted; returns the batch answer.</summary>
    public static async Task<(int Accepted, int Duplicates)> RecordUsageAsync(this HttpClient client, string body, string mediaType = "application/json")
    {
        var (status, answer, _) = await client.PostUsageAsync(body, mediaType);
        status.ShouldBe(HttpStatusCode.OK, answer?.ToJsonString());
        return (answer!["accepted"]!.GetValue<int>(), answer["duplicates"]!.GetValue<int>());
    }

    /// <summary>The usage events stored for a customer, with their metadata, in recorded order.</summary>
    public static async Task<List<IEvent>> UsageEventsAsync(this LedgerApp app, string customerId)
    {
        await using var session = app.Store.QuerySession();
        var all = await session.Events.QueryAllRawEvents().Where(e => e.EventTypesAre(typeof(UsageRecorded))).ToListAsync();
        return all.Where(e => e.Data is UsageRecorded u && u.CustomerId == customerId).OrderBy(e => e.Sequence).ToList();
    }

    public static async Task<int> UsageEventCountAsync(this LedgerApp app, string customerId)
    {
        await using var session = app.Store.QuerySession();
        return await session.Events.QueryRawEventDataOnly<UsageRecorded>().Where(u => u.CustomerId == customerId).CountAsync();
    }

    /// <summary>
    /// Waits for the async daemon to catch up, then reads the usage endpoint until
    /// <paramref name="done"/> holds or 30 s pass; returns the last answer either way so the test
    /// asserts on it.
    /// </summary>
    public static async Task<JsonNode> UsageWhenCaughtUpAsync(this LedgerApp app, HttpClient client, string url, Func<JsonNode, bool> done)
    {
        await app.Store.WaitForNonStaleProjectionDataAsync(TimeSpan.FromSeconds(30));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var (status, body) = await client.GetJson(url);
            status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
            if (done(body!) || DateTime.UtcNow > deadline) return body!;
            await Task.Delay(100);
        }
    }

    public static long Version(this JsonNode wallet) => wallet["version"]!.GetValue<long>();
}
