using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Ledger.Common;
using Ledger.Hosting;
using Ledger.Metering.Ingestion;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Metering;
using Marten;
using Microsoft.Extensions.DependencyInjection;

namespace Ledger.Tests.Operations;

/// <summary>
/// The classes of hostile input an attacker tried: ids with a trailing line feed, control
/// characters in text, repeated member names. Each is refused with 400 (404 for an id in a path
/// that names a resource) and problem details, and stores nothing: the event count, the balance
/// and the wallet version stay as they were.
/// </summary>
[Collection(LedgerCollection.Name)]
public class HostileInputTests(LedgerApp app)
{
    private readonly HttpClient _client = app.Client();

    /// <summary>JSON string escapes that decode to characters no id or text may hold.</summary>
    public static TheoryData<string> ControlCharacters => new() { @"\u0000", @"\n", @"\r", @"\t", @"\u001b", @"\u007f" };

    private static List<(string Name, string Url, string Body)> HostileBodies(string customer, string planId) =>
    [
        // Ids with a trailing line feed: another idempotency key for the same money or usage.
        ("top-up id ending in a line feed", $"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1\n", "amount": "10.00" }"""),
        ("debit id ending in a line feed", $"/v1/wallets/{customer}/debits", """{ "id": "db-1\n", "amount": "1.00", "reason": "fee" }"""),
        ("usage id ending in a line feed", "/v1/usage", Usage(customer, id: @"evt-1\n")),
        ("meter ending in a line feed", "/v1/usage", Usage(customer, meter: @"otp.sms\n")),
        ("customer id ending in a line feed", "/v1/usage", Usage(customer + @"\n")),
        ("plan meter name ending in a line feed", $"/v1/plans/{planId}", """{ "currency": "INR", "meters": { "otp.sms\n": { "model": "flat", "unitPrice": "0.20" } } }"""),
        ("customer plan id ending in a line feed", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "A", "planId": "{{planId}}\n", "currency": "INR" }"""),
        // Control characters in text fields and dimensions.
        ("NUL in a top-up reference", $"/v1/wallets/{customer}/top-ups", """{ "id": "tu-2", "amount": "10.00", "reference": "pay\u0000" }"""),
        ("DEL in a debit reason", $"/v1/wallets/{customer}/debits", """{ "id": "db-2", "amount": "1.00", "reason": "fee\u007f" }"""),
        ("escape in an adjustment reason", $"/v1/wallets/{customer}/adjustments", """{ "id": "adj-1", "amount": "-1.00", "reason": "\u001b[31mred" }"""),
        ("NUL in a customer name", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "Acme\u0000", "planId": "{{planId}}", "currency": "INR" }"""),
        ("line feed in a customer name", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "Acme\nLtd", "planId": "{{planId}}", "currency": "INR" }"""),
        ("NUL in a dimension value", "/v1/usage", Usage(customer, dimensions: """{ "country": "IN\u0000" }""")),
        ("NUL in a dimension name", "/v1/usage", Usage(customer, dimensions: """{ "coun\u0000try": "IN" }""")),
        ("unpaired surrogate in a customer name", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "Acme\uD800", "planId": "{{planId}}", "currency": "INR" }"""),
        ("unpaired surrogate in a dimension value", "/v1/usage", Usage(customer, dimensions: """{ "country": "\uDC00" }""")),
        ("NUL in a time zone", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "A", "planId": "{{planId}}", "currency": "INR", "billingTimeZone": "UTC\u0000" }"""),
        // A member name repeated in one object: never "last value wins".
        ("amount twice in a top-up", $"/v1/wallets/{customer}/top-ups", """{ "id": "tu-3", "amount": "1.00", "amount": "1000.00" }"""),
        ("id twice in other case", $"/v1/wallets/{customer}/top-ups", """{ "id": "tu-4", "Id": "tu-5", "amount": "1.00" }"""),
        ("amount twice in a debit", $"/v1/wallets/{customer}/debits", """{ "id": "db-3", "amount": "1.00", "reason": "fee", "amount": "2.00" }"""),
        ("quantity twice in a usage event", "/v1/usage", Usage(customer, extra: """, "quantity": "1000" """)),
        ("dimension twice in a usage event", "/v1/usage", Usage(customer, dimensions: """{ "country": "IN", "country": "US" }""")),
        ("name twice in a customer", $"/v1/customers/{LedgerApp.NewId("c")}", $$"""{ "name": "A", "name": "B", "planId": "{{planId}}", "currency": "INR" }"""),
        ("unitPrice twice in a plan meter", $"/v1/plans/{LedgerApp.NewId("p")}", """{ "currency": "INR", "meters": { "otp.sms": { "model": "flat", "unitPrice": "0.20", "unitPrice": "0" } } }"""),
        ("events twice in a usage batch", "/v1/usage", $$"""{ "events": [], "events": [ {{Event(customer)}} ] }"""),
    ];

    [Fact]
    public async Task Every_hostile_body_is_refused_with_400_problem_details_and_nothing_is_stored()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.TopUpAsync(customer, "100.00", id: "tu-0");
        var planId = LedgerApp.NewId("plan");
        (await _client.PutJson($"/v1/plans/{planId}", Api.StarterPlan)).Status.ShouldBe(HttpStatusCode.Created);
        var before = await StateAsync(customer);

        foreach (var row in HostileBodies(customer, planId))
        {
            var (name, url, body) = row;
            var method = url.StartsWith("/v1/plans/", StringComparison.Ordinal) || url.StartsWith("/v1/customers/", StringComparison.Ordinal) ? HttpMethod.Put : HttpMethod.Post;
            using var response = await _client.SendAsync(new HttpRequestMessage(method, url) { Content = Api.Json(body) });
            var text = await response.Content.ReadAsStringAsync();

            response.StatusCode.ShouldBe(HttpStatusCode.BadRequest, $"{name}: {text}");
            response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", name);
            var problem = JsonNode.Parse(text)!;
            problem["errors"].ShouldNotBeNull(name);
            text.ShouldNotContain("Exception", Case.Sensitive, name);
            text.ShouldNotContain("Ledger.", Case.Sensitive, name);
        }

        (await StateAsync(customer)).ShouldBe(before);
    }

    [Theory]
    [MemberData(nameof(ControlCharacters))]
    public async Task A_control_character_in_any_text_field_is_refused_with_its_field_path(string escape)
    {
        var customer = await _client.NewCustomerAsync();
        var before = await StateAsync(customer);

        var (status, problem) = await _client.PostJson($"/v1/wallets/{customer}/debits",
            $$"""{ "id": "db-1", "amount": "1.00", "reason": "fee{{escape}}" }""");
        var (usageStatus, usageProblem, _) = await _client.PostUsageAsync(Usage(customer, dimensions: $$"""{ "country": "I{{escape}}N" }""", index: 1));

        status.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["reason"]![0]!.GetValue<string>().ShouldBe(ClientText.ControlCharacterRule);
        usageStatus.ShouldBe(HttpStatusCode.BadRequest);
        usageProblem!["errors"]!.AsObject().Select(e => e.Key).ShouldBe(["events[1].dimensions.country"]);
        (await StateAsync(customer)).ShouldBe(before);
    }

    [Fact]
    public async Task A_top_up_id_with_a_trailing_line_feed_never_applies_the_same_top_up_twice()
    {
        var customer = await _client.NewCustomerAsync();

        var (first, _) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1", "amount": "500.00" }""");
        var (second, problem) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1\n", "amount": "500.00" }""");
        var (third, _) = await _client.PostJson($"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1\r\n", "amount": "500.00" }""");

        first.ShouldBe(HttpStatusCode.Created);
        second.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["id"].ShouldNotBeNull();
        third.ShouldBe(HttpStatusCode.BadRequest);
        var wallet = await _client.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("500.000000");
        wallet.Version().ShouldBe(2);
    }

    [Fact]
    public async Task A_usage_id_with_a_trailing_line_feed_is_never_recorded_beside_the_same_id()
    {
        var customer = await _client.NewCustomerAsync();
        await _client.RecordUsageAsync(UsageApi.Batch(Event(customer, id: "evt-1")));

        var (status, problem, _) = await _client.PostUsageAsync(UsageApi.Batch(Event(customer, id: @"evt-1\n")));
        var (cloudStatus, _, _) = await _client.PostUsageAsync(
            $$"""[ { "specversion": "1.0", "id": "evt-1\n", "source": "t", "type": "otp.sms", "subject": "{{customer}}", "time": "{{Now}}" } ]""",
            UsageApi.CloudEventsBatch);

        status.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["events[0].id"].ShouldNotBeNull();
        cloudStatus.ShouldBe(HttpStatusCode.BadRequest);
        (await app.UsageEventCountAsync(customer)).ShouldBe(1);
    }

    [Fact]
    public async Task A_control_character_in_a_cloud_event_data_string_is_refused()
    {
        var customer = await _client.NewCustomerAsync();

        var (status, problem, _) = await _client.PostUsageAsync(
            $$"""[ { "specversion": "1.0", "id": "evt-1", "source": "t", "type": "otp.sms", "subject": "{{customer}}", "time": "{{Now}}", "data": { "country": "IN\u0000" } } ]""",
            UsageApi.CloudEventsBatch);
        var (surrogate, _, _) = await _client.PostUsageAsync(
            $$"""[ { "specversion": "1.0", "id": "evt-3", "source": "t", "type": "otp.sms", "subject": "{{customer}}", "time": "{{Now}}", "data": { "country": "\uD800" } } ]""",
            UsageApi.CloudEventsBatch);
        var (repeated, _, _) = await _client.PostUsageAsync(
            $$"""[ { "specversion": "1.0", "id": "evt-2", "source": "t", "type": "otp.sms", "subject": "{{customer}}", "time": "{{Now}}", "data": { "quantity": "1", "quantity": "900" } } ]""",
            UsageApi.CloudEventsBatch);

        status.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["events[0].dimensions.country"].ShouldNotBeNull();
        repeated.ShouldBe(HttpStatusCode.BadRequest);
        surrogate.ShouldBe(HttpStatusCode.BadRequest);
        (await app.UsageEventCountAsync(customer)).ShouldBe(0);
    }

    // A NUL (%00) in a path never reaches the ledger: the server refuses such a request itself.
    public static TheoryData<string, string, HttpStatusCode> HostilePaths => new()
    {
        { "PUT", "/v1/plans/basic%0A", HttpStatusCode.BadRequest },
        { "PUT", "/v1/customers/acme%0A", HttpStatusCode.BadRequest },
        { "PUT", "/v1/customers/acme%01", HttpStatusCode.BadRequest },
        { "POST", "/v1/wallets/acme%0A/top-ups", HttpStatusCode.NotFound },
        { "GET", "/v1/wallets/acme%1B", HttpStatusCode.NotFound },
        { "GET", "/v1/customers/acme%0A", HttpStatusCode.NotFound },
        { "GET", "/v1/plans/basic%7F", HttpStatusCode.NotFound },
        { "GET", "/v1/invoices/INV-2026-10-acme%01", HttpStatusCode.NotFound },
        { "GET", "/v1/invoices/INV-2026-10-acme%0A/pdf", HttpStatusCode.NotFound },
        { "GET", "/v1/invoices?customerId=acme%00", HttpStatusCode.BadRequest },
        { "GET", "/v1/customers/acme%0A/usage?from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z&granularity=day", HttpStatusCode.NotFound },
        { "POST", "/v1/billing/periods/2026-10/close?customerId=acme%00", HttpStatusCode.NotFound },
    };

    [Theory]
    [MemberData(nameof(HostilePaths))]
    public async Task An_id_in_a_path_or_query_with_a_control_character_is_refused_without_a_500(string method, string url, HttpStatusCode expected)
    {
        var before = await EventCountAsync();
        var body = method == "GET" ? null
            : url.Contains("/plans/", StringComparison.Ordinal) ? Api.StarterPlan
            : url.Contains("/customers/", StringComparison.Ordinal) ? """{ "name": "A", "planId": "basic", "currency": "INR" }"""
            : url.Contains("/close", StringComparison.Ordinal) ? null
            : """{ "id": "tu-1", "amount": "1.00" }""";

        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null) request.Content = Api.Json(body);
        using var response = await _client.SendAsync(request);

        response.StatusCode.ShouldBe(expected, await response.Content.ReadAsStringAsync());
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        (await EventCountAsync()).ShouldBe(before);
    }

    [Fact]
    public async Task A_poison_batch_that_fails_in_the_database_fails_alone_and_the_batches_beside_it_are_recorded()
    {
        // Validation refuses a NUL; this batch is handed to the writer directly, past validation,
        // to stand for whatever may still fail inside PostgreSQL.
        var healthy = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _client.NewCustomerAsync()));
        var poisoned = await _client.NewCustomerAsync();
        var writer = app.Host.Services.GetRequiredService<UsageWriter>();
        var plan = await PlanPriceAsync(poisoned);

        var poison = writer.RecordAsync([ToRecord(poisoned, "evt-poison", plan, new Dictionary<string, string> { ["country"] = "IN\0" })],
            new EventActor("test", null, null), "test", CancellationToken.None);
        var others = healthy.Select(c => writer.RecordAsync(
            Enumerable.Range(0, 50).Select(i => ToRecord(c, $"evt-{i}", plan, new Dictionary<string, string>())).ToList(),
            new EventActor("test", null, null), "test", CancellationToken.None)).ToList();

        await Should.ThrowAsync<Exception>(() => poison);
        foreach (var outcome in await Task.WhenAll(others)) outcome.ShouldBe(new UsageOutcome(50, 0));
        foreach (var c in healthy) (await app.UsageEventCountAsync(c)).ShouldBe(50);
        (await app.UsageEventCountAsync(poisoned)).ShouldBe(0);
    }

    [Fact]
    public async Task Headers_over_the_limit_get_a_431_problem_document()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/plans/basic");
        request.Headers.Add("X-Padding", new string('a', 40 * 1024));
        using var response = await _client.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.RequestHeaderFieldsTooLarge);
        response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json");
        JsonNode.Parse(await response.Content.ReadAsStringAsync()).Str("type").ShouldBe("urn:ledger:problem:request-headers-too-large");
    }

    private static readonly string Now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ");

    private static string Event(string customer, string id = "evt-1", string meter = "otp.sms", string? dimensions = null, string extra = "") =>
        $$"""{ "id": "{{id}}", "customerId": "{{customer}}", "meter": "{{meter}}", "quantity": "1", "occurredAt": "{{Now}}"{{(dimensions is null ? "" : $", \"dimensions\": {dimensions}")}} {{extra}} }""";

    /// <summary>A batch whose hostile event is preceded by <paramref name="index"/> valid ones.</summary>
    private static string Usage(string customer, string id = "evt-9", string meter = "otp.sms", string? dimensions = null, string extra = "", int index = 0) =>
        UsageApi.Batch(Enumerable.Range(0, index).Select(i => Event(customer, id: $"ok-{i}"))
            .Append(Event(customer, id, meter, dimensions, extra)));

    private async Task<(long Events, string Balance, long Version)> StateAsync(string customer)
    {
        var wallet = await _client.WalletAsync(customer);
        return (await EventCountAsync(), wallet.Str("balance"), wallet.Version());
    }

    private async Task<long> EventCountAsync() => (await app.Store.Advanced.FetchEventStoreStatistics()).EventCount;

    private async Task<(string PlanId, int Version, Ledger.Plans.MeterPrice Price)> PlanPriceAsync(string customer)
    {
        await using var session = app.Store.QuerySession();
        var c = await session.LoadAsync<Ledger.Customers.Customer>(StreamKeys.Customer(customer));
        var p = await Ledger.Plans.PlanHistory.LoadAsync(session, c!.PlanId, CancellationToken.None);
        var version = p!.VersionAt(DateTimeOffset.UtcNow);
        return (p.PlanId, version.Version, version.Meters["otp.whatsapp"]);
    }

    private static UsageToRecord ToRecord(string customer, string id, (string PlanId, int Version, Ledger.Plans.MeterPrice Price) plan,
        Dictionary<string, string> dimensions)
    {
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);
        return new UsageToRecord(customer, id, "otp.whatsapp", 1m, at, dimensions, BillingPeriods.Of(at, "Asia/Kolkata"),
            plan.PlanId, plan.Version, plan.Price, "INR", Late: false);
    }
}
