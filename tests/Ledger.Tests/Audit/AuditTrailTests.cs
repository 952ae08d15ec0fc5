using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;
using Ledger.Tests.Invoicing;
using Ledger.Tests.Metering;

namespace Ledger.Tests.Audit;

/// <summary>
/// The audit listing over real HTTP: who caused each event and under which trace, the chain
/// recomputed by an implementation of its own (and by the script docs/audit.md prints), paging
/// and NDJSON agreeing.
/// </summary>
[Collection(LedgerCollection.Name)]
public partial class AuditTrailTests(LedgerApp app)
{
    private readonly HttpClient _finance = app.Client(Scopes.FinanceRead);

    [Fact]
    public async Task Every_command_records_the_tokens_sub_as_actor_and_the_requests_trace_as_correlation_id()
    {
        var planId = LedgerApp.NewId("plan");
        var customer = LedgerApp.NewId("cust");
        var traces = new Dictionary<string, string>();

        async Task<HttpStatusCode> Send(string subject, HttpMethod method, string url, string? body)
        {
            var trace = ActivityTraceId.CreateRandom().ToHexString();
            traces[subject] = trace;
            using var request = new HttpRequestMessage(method, url);
            request.Headers.Add("traceparent", $"00-{trace}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            if (body is not null) request.Content = Api.Json(body);
            using var response = await app.Client(Scopes.Admin, subject).SendAsync(request);
            return response.StatusCode;
        }

        (await Send("billing-bob", HttpMethod.Put, $"/v1/plans/{planId}", Api.StarterPlan)).ShouldBe(HttpStatusCode.Created);
        (await Send("onboarding-olga", HttpMethod.Put, $"/v1/customers/{customer}", $$"""
            { "name": "Acme", "planId": "{{planId}}", "currency": "INR", "creditLimit": "0", "lowBalanceThreshold": "10", "billingTimeZone": "UTC" }
            """)).ShouldBe(HttpStatusCode.Created);
        (await Send("ops-alice", HttpMethod.Post, $"/v1/wallets/{customer}/top-ups", """{ "id": "tu-1", "amount": "100.00" }""")).ShouldBe(HttpStatusCode.Created);
        (await Send("ops-dan", HttpMethod.Post, $"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "1.00", "reason": "fee" }""")).ShouldBe(HttpStatusCode.Created);
        (await Send("finance-fay", HttpMethod.Post, $"/v1/wallets/{customer}/adjustments", """{ "id": "adj-1", "amount": "-0.50", "reason": "fix" }""")).ShouldBe(HttpStatusCode.Created);
        (await Send("meter-mo", HttpMethod.Post, "/v1/usage", UsageApi.Batch(UsageApi.Event("u-1", customer, "otp.sms", "2", "2026-10-15T10:00:00Z"))))
            .ShouldBe(HttpStatusCode.OK);
        (await Send("closer-cy", HttpMethod.Post, $"/v1/billing/periods/2026-10/close?customerId={customer}", null)).ShouldBe(HttpStatusCode.OK);

        var events = await AllEventsAsync(customer);
        var byType = events.GroupBy(e => e.Str("type")).ToDictionary(g => g.Key, g => g.ToList());
        void Expect(string type, string subject)
        {
            byType.ShouldContainKey(type);
            byType[type].ShouldAllBe(e => e.Str("actor") == subject && e.Str("correlationId") == traces[subject], type);
        }

        Expect("customer_registered", "onboarding-olga");
        Expect("wallet_topped_up", "ops-alice");
        Expect("wallet_debited", "ops-dan");
        Expect("wallet_adjusted", "finance-fay");
        Expect("usage_recorded", "meter-mo");
        Expect("invoice_issued", "closer-cy");
        Expect("period_settled", "closer-cy");

        // The plan's stream is not the customer's: read it from the events themselves.
        await using var session = app.Store.QuerySession();
        var plan = await session.Events.FetchStreamAsync($"plan/{planId}");
        plan.ShouldAllBe(e => e.UserName == "billing-bob" && e.CorrelationId == traces["billing-bob"]);
        plan.ShouldNotBeEmpty();
    }

    [Fact]
    public async Task The_chain_recomputed_by_an_independent_implementation_equals_the_stored_hashes_and_pages_agree_with_ndjson()
    {
        var customer = await SeedAsync();
        var other = await app.Client().NewCustomerAsync();
        // One batch with both customers' usage: the usage stream is shared, each customer sees its own events of it.
        await app.Client().RecordUsageAsync(UsageApi.Batch(UsageApi.Event("m-1", customer, "otp.sms", "1.50", Now()), UsageApi.Event("m-2", other, "otp.sms", "1", Now()),
            UsageApi.Event("m-3", customer, "otp.email", "4", Now())));

        var paged = await AllEventsAsync(customer, pageSize: 3);
        var streamed = await NdJsonAsync(customer);
        streamed.Count.ShouldBe(paged.Count);
        for (var i = 0; i < paged.Count; i++) JsonNode.DeepEquals(paged[i], streamed[i]).ShouldBeTrue($"item {i}");
        paged.Select(e => e!["sequence"]!.GetValue<long>()).ShouldBeInOrder(SortDirection.Ascending);
        paged.Count.ShouldBe(5 + 4); // registration, 2 top-ups, a debit, an adjustment; 4 usage events
        paged.Count(e => e.Str("type") == "usage_recorded").ShouldBe(4);

        var previousInStream = new Dictionary<string, (long Version, string Hash)>();
        foreach (var e in paged)
        {
            var hash = IndependentHash(e!);
            e.Str("hash").ShouldBe(hash, e!.ToJsonString());
            var key = e.Str("streamKey");
            var version = e["version"]!.GetValue<long>();
            if (version == 1) e.Str("previousHash").ShouldBe(new string('0', 64));
            if (previousInStream.TryGetValue(key, out var before) && before.Version == version - 1) e.Str("previousHash").ShouldBe(before.Hash);
            previousInStream[key] = (version, hash);
        }

        // The customer's own stream is complete in the listing: versions 1..n, each linked to the one before.
        var own = paged.Where(e => e.Str("streamKey") == $"customer/{customer}").ToList();
        own.Select(e => e!["version"]!.GetValue<long>()).ShouldBe(Enumerable.Range(1, own.Count).Select(v => (long)v));
        for (var i = 1; i < own.Count; i++) own[i].Str("previousHash").ShouldBe(own[i - 1].Str("hash"));

        var verify = await VerifyAsync(customer);
        verify["ok"]!.GetValue<bool>().ShouldBeTrue(verify.ToJsonString());
        verify["eventsChecked"]!.GetValue<long>().ShouldBeGreaterThanOrEqualTo(own.Count + 3);
    }

    [Fact]
    public async Task The_script_printed_in_the_audit_docs_recomputes_the_chain_and_finds_a_changed_event()
    {
        var customer = await SeedAsync();
        var export = await NdJsonTextAsync(customer);
        var script = ScriptFromDocs();

        var (exit, output) = await RunPythonAsync(script, export);
        exit.ShouldBe(0, output);
        output.ShouldContain("ok: ");

        // The same export with one amount changed: the script names the event.
        var lines = export.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var changed = JsonNode.Parse(lines[1])!;
        changed["data"]!["amount"] = "1000000.000000";
        lines[1] = changed.ToJsonString();
        (exit, output) = await RunPythonAsync(script, string.Join('\n', lines) + "\n");
        exit.ShouldBe(1, output);
        output.ShouldContain($"MISMATCH customer/{customer} v2");
    }

    [Fact]
    public async Task Bad_parameters_are_400_an_unknown_customer_404_and_a_token_without_finance_read_403()
    {
        var customer = await SeedAsync();
        foreach (var query in new[] { "limit=0", "limit=1001", "limit=x", "after=-1", "after=abc", "from=yesterday", "to=2026-01-01" })
        {
            var (status, body) = await _finance.GetJson($"/v1/audit/customers/{customer}/events?{query}");
            status.ShouldBe(HttpStatusCode.BadRequest, query);
            body!["errors"].ShouldNotBeNull(query);
        }

        (await _finance.GetJson("/v1/audit/customers/nobody-here/events")).Status.ShouldBe(HttpStatusCode.NotFound);
        (await _finance.SendJson(HttpMethod.Post, "/v1/audit/verify?customerId=nobody-here")).Status.ShouldBe(HttpStatusCode.NotFound);
        (await app.Client(Scopes.WalletsRead).GetJson($"/v1/audit/customers/{customer}/events")).Status.ShouldBe(HttpStatusCode.Forbidden);
        (await app.Client(Scopes.WalletsRead).SendJson(HttpMethod.Post, "/v1/audit/verify")).Status.ShouldBe(HttpStatusCode.Forbidden);

        // from/to select by recording time; after pages past a sequence.
        var all = await AllEventsAsync(customer);
        var (_, after) = await _finance.GetJson($"/v1/audit/customers/{customer}/events?after={all[1]!["sequence"]}");
        after!["items"]!.AsArray().Count.ShouldBe(all.Count - 2);
        var (_, window) = await _finance.GetJson(
            $"/v1/audit/customers/{customer}/events?from={Uri.EscapeDataString(all[1].Str("recordedAt"))}&to={Uri.EscapeDataString(all[2].Str("recordedAt"))}");
        window!["items"]!.AsArray().Select(e => e.Str("hash")).ShouldBe([all[1].Str("hash")]);
    }

    /// <summary>A customer with five events on its own stream and two usage events.</summary>
    internal async Task<string> SeedAsync()
    {
        var client = app.Client();
        var customer = await client.NewCustomerAsync(creditLimit: "10.00");
        await client.TopUpAsync(customer, "100.00");
        (await client.PostJson($"/v1/wallets/{customer}/debits", """{ "id": "db-1", "amount": "7.25", "reason": "fee \"quoted\" \\ ünïcødé ✓" }""")).Status
            .ShouldBe(HttpStatusCode.Created);
        (await client.PostJson($"/v1/wallets/{customer}/adjustments", """{ "id": "adj-1", "amount": "-1.10", "reason": "fix" }""")).Status.ShouldBe(HttpStatusCode.Created);
        await client.TopUpAsync(customer, "5.5");
        await client.RecordUsageAsync(UsageApi.Batch(UsageApi.Event("u-1", customer, "otp.whatsapp", "3", Now()), UsageApi.Event("u-2", customer, "otp.sms", "1", Now())));
        return customer;
    }

    private static string Now() => DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    internal async Task<List<JsonNode>> AllEventsAsync(string customer, int pageSize = 1000)
    {
        var items = new List<JsonNode>();
        string? after = null;
        while (true)
        {
            var (status, page) = await _finance.GetJson($"/v1/audit/customers/{customer}/events?limit={pageSize}" + (after is null ? "" : $"&after={after}"));
            status.ShouldBe(HttpStatusCode.OK, page?.ToJsonString());
            items.AddRange(page!["items"]!.AsArray().Select(i => i!));
            if (page["next"] is null) return items;
            after = page["next"]!.ToJsonString();
        }
    }

    private async Task<string> NdJsonTextAsync(string customer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/audit/customers/{customer}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/x-ndjson"));
        using var response = await _finance.SendAsync(request);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/x-ndjson");
        return await response.Content.ReadAsStringAsync();
    }

    private async Task<List<JsonNode>> NdJsonAsync(string customer) =>
        (await NdJsonTextAsync(customer)).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

    internal async Task<JsonNode> VerifyAsync(string? customer)
    {
        var (status, body) = await _finance.SendJson(HttpMethod.Post, "/v1/audit/verify" + (customer is null ? "" : $"?customerId={customer}"));
        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        return body!;
    }

    // ---- An implementation of the canonical form of its own, over JsonNode, from docs/audit.md. ----

    private static string IndependentHash(JsonNode e)
    {
        var envelope = new JsonObject();
        foreach (var field in new[] { "actor", "correlationId", "data", "occurredAt", "streamKey", "type", "version" }) envelope[field] = e[field]?.DeepClone();
        var bytes = Convert.FromHexString(e.Str("previousHash")).Concat(Encoding.UTF8.GetBytes(Canonical(envelope))).ToArray();
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    private static string Canonical(JsonNode? node) => node switch
    {
        null => "null",
        JsonObject o => "{" + string.Join(",", o.OrderBy(p => p.Key, Comparer<string>.Create(CompareCodePoints))
            .Select(p => Quote(p.Key) + ":" + Canonical(p.Value))) + "}",
        JsonArray a => "[" + string.Join(",", a.Select(Canonical)) + "]",
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.String => Quote(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.Number => PlainNumber(v.ToJsonString()),
        _ => node.ToJsonString(), // true, false
    };

    private static int CompareCodePoints(string a, string b)
    {
        var (x, y) = (a.EnumerateRunes().GetEnumerator(), b.EnumerateRunes().GetEnumerator());
        while (true)
        {
            var (hasX, hasY) = (x.MoveNext(), y.MoveNext());
            if (!hasX || !hasY) return hasX.CompareTo(hasY);
            var c = x.Current.Value.CompareTo(y.Current.Value);
            if (c != 0) return c;
        }
    }

    private static string Quote(string s)
    {
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            b.Append(c switch
            {
                '"' => "\\\"", '\\' => "\\\\", '\b' => "\\b", '\f' => "\\f", '\n' => "\\n", '\r' => "\\r", '\t' => "\\t",
                < ' ' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }

        return b.Append('"').ToString();
    }

    private static string PlainNumber(string text)
    {
        var d = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        var s = d.ToString("0.############################", CultureInfo.InvariantCulture);
        return s == "-0" ? "0" : s;
    }

    // ---- The script from docs/audit.md, run as printed. ----

    internal static string ScriptFromDocs()
    {
        var docs = File.ReadAllText(Path.Combine(LedgerApp.RepositoryRoot(), "docs", "audit.md"));
        var match = ScriptBlock().Match(docs);
        match.Success.ShouldBeTrue("docs/audit.md holds the audit-chain.py block");
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"<!-- audit-chain\.py[^>]*-->\s*```python\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    private static async Task<(int Exit, string Output)> RunPythonAsync(string script, string input)
    {
        var path = Path.Combine(Path.GetTempPath(), $"audit-chain-{Guid.NewGuid():N}.py");
        await File.WriteAllTextAsync(path, script);
        try
        {
            var start = new ProcessStartInfo("python3", path) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(start)!;
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
            var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, output);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
