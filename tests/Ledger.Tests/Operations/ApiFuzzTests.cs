using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

/// <summary>
/// Property-based fuzzing of every command body: valid bodies mutated at random — members dropped,
/// values of the wrong JSON type, huge and odd numbers, deep nesting, odd Unicode, control
/// characters, repeated members, random paths — must only ever get a 2xx or a 4xx problem
/// document, and a 4xx must store nothing (event count, balance and wallet version unchanged).
/// </summary>
[Collection(LedgerCollection.Name)]
public class ApiFuzzTests(LedgerApp app)
{
    private static readonly Gen<string> OddText = Gen.OneOf(
        Gen.Const(""), Gen.Const(" "), Gen.Const("\\u0000"), Gen.Const("\\n"), Gen.Const("\\uD800"), Gen.Const("é€𝄞"), Gen.Const("\\u202E"),
        Gen.Const("' or 1=1 --"), Gen.Const("../../etc/passwd"), Gen.Const(new string('x', 70)), Gen.Const(new string('y', 5000)),
        Gen.String[Gen.Char.AlphaNumeric, 1, 20]);

    /// <summary>A JSON value of any kind, as raw JSON text.</summary>
    private static readonly Gen<string> AnyValue = Gen.OneOf(
        Gen.Const("null"), Gen.Const("true"), Gen.Const("[]"), Gen.Const("{}"), Gen.Const("0"), Gen.Const("-1"), Gen.Const("1e400"),
        Gen.Const("123456789012345678901234567890"), Gen.Const("0.0000001"), Gen.Const("\"1e3\""), Gen.Const("\"-0\""), Gen.Const("\"99999999999999999999.99\""),
        Gen.Const("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"),
        OddText.Select(t => "\"" + t + "\""));

    private sealed record Target(string Method, string Path, string Body);

    [Fact]
    public async Task Mutated_command_bodies_get_only_2xx_or_4xx_problem_details_and_a_4xx_stores_nothing()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();
        await client.TopUpAsync(customer, "100.00");
        var plan = (await client.GetJson($"/v1/customers/{customer}")).Body.Str("planId");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture);

        Target[] targets =
        [
            new("POST", $"/v1/wallets/{customer}/top-ups", """{ "id": "f-1", "amount": "1.00", "reference": "r" }"""),
            new("POST", $"/v1/wallets/{customer}/debits", """{ "id": "f-2", "amount": "1.00", "reason": "r" }"""),
            new("POST", $"/v1/wallets/{customer}/adjustments", """{ "id": "f-3", "amount": "-1.00", "reason": "r" }"""),
            new("PUT", $"/v1/customers/{customer}", $$"""{ "name": "Acme Pvt Ltd", "planId": "{{plan}}", "currency": "INR", "creditLimit": "0.00", "lowBalanceThreshold": "100.00", "billingTimeZone": "Asia/Kolkata" }"""),
            new("PUT", $"/v1/plans/{plan}", Api.StarterPlan),
            new("POST", "/v1/usage", $$"""{ "events": [ { "id": "f-u", "customerId": "{{customer}}", "meter": "otp.sms", "quantity": "1", "occurredAt": "{{now}}", "dimensions": { "country": "IN" } } ] }"""),
        ];

        var mutation = Gen.Select(Gen.Int[0, targets.Length - 1], Gen.Int[0, 7], AnyValue, OddText, Gen.Int[0, 1_000_000]);
        var before = await StateAsync(client, customer);
        var answered = new Dictionary<int, int>();

        await mutation.SampleAsync(async m =>
        {
            var (index, kind, value, text, seed) = m;
            var target = targets[index];
            var (path, body) = Mutate(target, kind, value, text, new Random(seed));
            using var request = new HttpRequestMessage(new HttpMethod(target.Method), path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await client.SendAsync(request);
            var answer = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            answered[status / 100] = answered.GetValueOrDefault(status / 100) + 1;

            status.ShouldBeInRange(200, 499, $"{target.Method} {path} {body}: {answer}");
            if (status >= 400)
            {
                response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", answer);
                JsonNode.Parse(answer)!["type"]!.GetValue<string>().ShouldStartWith("urn:ledger:problem:");
                answer.ShouldNotContain("Exception");
                (await StateAsync(client, customer)).ShouldBe(before, $"{target.Method} {path} {body} answered {status} but stored something");
            }
            else
            {
                before = await StateAsync(client, customer);
            }
        }, iter: 250, threads: 1);

        // Both kinds of answer happened: the mutations neither all pass nor all fail.
        answered.GetValueOrDefault(2).ShouldBeGreaterThan(5);
        answered.GetValueOrDefault(4).ShouldBeGreaterThan(100);
    }

    /// <summary>A header value of any kind: odd media types, broken tokens, odd Unicode, very long, empty.</summary>
    private static readonly Gen<string> OddHeaderValue = Gen.OneOf(
        Gen.Const(""), Gen.Const(" "), Gen.Const("text/plain"), Gen.Const("application/json; charset=latin1"), Gen.Const("application/json;;;"),
        Gen.Const("application/cloudevents-batch+json"), Gen.Const("application/x-ndjson"), Gen.Const("*/*"), Gen.Const("multipart/form-data; boundary=x"),
        Gen.Const("Bearer"), Gen.Const("Bearer "), Gen.Const("Bearer a.b.c"), Gen.Const("Basic dXNlcjpwYXNz"), Gen.Const("bearer " + new string('A', 3000)),
        Gen.Const("gzip"), Gen.Const("00-zzzz-zzzz-01"), Gen.Const("é€𝄞"), Gen.Const("' or 1=1 --"), Gen.Const(new string('h', 9000)),
        Gen.String[Gen.Char.AlphaNumeric, 1, 40]);

    [Fact]
    public async Task Mutated_request_headers_get_only_2xx_or_4xx_problem_details_and_a_4xx_stores_nothing()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync();
        var token = LedgerApp.Token(Hosting.Scopes.Admin);
        string[] headers = ["Content-Type", "Authorization", "Accept", "Content-Encoding", "traceparent", "Idempotency-Key", "X-Forwarded-For", "Accept-Charset", "X-Fuzz"];
        var mutation = Gen.Select(Gen.Int[0, headers.Length - 1], OddHeaderValue, Gen.Int[0, 2], Gen.Int[0, 1_000_000]);
        var before = await StateAsync(client, customer);
        var answered = new Dictionary<int, int>();
        var raw = app.Client(scopes: null);

        await mutation.SampleAsync(async m =>
        {
            var (index, value, how, seed) = m;
            var header = headers[index];
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/wallets/{customer}/top-ups")
            {
                Content = new StringContent($$"""{ "id": "h-{{seed}}", "amount": "1.00" }""", Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
            if (header is "Content-Type" or "Content-Encoding")
            {
                request.Content.Headers.Remove(header);
                if (how > 0) request.Content.Headers.TryAddWithoutValidation(header, value);
            }
            else
            {
                if (header == "Authorization") request.Headers.Remove(header);
                if (how > 0) request.Headers.TryAddWithoutValidation(header, value);
                if (how > 1) request.Headers.TryAddWithoutValidation(header, value + "2"); // repeated
            }

            using var response = await raw.SendAsync(request);
            var answer = await response.Content.ReadAsStringAsync();
            var status = (int)response.StatusCode;
            answered[status / 100] = answered.GetValueOrDefault(status / 100) + 1;

            status.ShouldBeInRange(200, 499, $"{header}: {value} ({how}): {answer}");
            if (status >= 400)
            {
                response.Content.Headers.ContentType?.MediaType.ShouldBe("application/problem+json", $"{header}: {value} → {status} {answer}");
                answer.ShouldNotContain("Exception");
                (await StateAsync(client, customer)).ShouldBe(before, $"{header}: {value} answered {status} but stored something");
            }
            else
            {
                before = await StateAsync(client, customer);
            }
        }, iter: 150, threads: 1);

        answered.GetValueOrDefault(2).ShouldBeGreaterThan(5);
        answered.GetValueOrDefault(4).ShouldBeGreaterThan(5);
    }

    /// <summary>One mutation of a valid body: which member, how.</summary>
    private static (string Path, string Body) Mutate(Target target, int kind, string value, string text, Random random)
    {
        var node = JsonNode.Parse(target.Body)!.AsObject();
        var holder = node.ContainsKey("events") ? node["events"]![0]!.AsObject() : node;
        var keys = holder.Select(p => p.Key).ToList();
        var key = keys[random.Next(keys.Count)];
        const string Placeholder = "\"__fuzz__\"";
        switch (kind)
        {
            case 0: holder.Remove(key); break;                                    // a member dropped
            case 1: holder[key] = "__fuzz__"; break;                             // any JSON value in its place (spliced in as raw text below)
            case 2: holder["unexpected" + random.Next(9)] = "__fuzz__"; break;
            case 3: return (target.Path, target.Body.Replace("{", "{ \"" + key + "\": " + value + ", ", StringComparison.Ordinal)); // repeated member
            case 4: return (target.Path, target.Body[..random.Next(target.Body.Length)]);   // truncated
            case 5: return (target.Path + Uri.EscapeDataString(text), target.Body);       // odd path
            case 6: return (target.Path, "[" + target.Body + "]");                           // wrong top-level type
            default: holder[key] = text.Replace("\\", "\\\\", StringComparison.Ordinal); break; // odd text
        }

        return (target.Path, node.ToJsonString().Replace(Placeholder, value, StringComparison.Ordinal));
    }

    private async Task<(long Events, string Balance, long Version)> StateAsync(HttpClient client, string customer)
    {
        var wallet = await client.WalletAsync(customer);
        return ((await app.Store.Advanced.FetchEventStoreStatistics()).EventCount, wallet.Str("balance"), wallet!["version"]!.GetValue<long>());
    }
}
