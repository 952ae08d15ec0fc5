using System.Net;
using System.Text.Json.Nodes;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

[Collection(LedgerCollection.Name)]
public class HostTests(LedgerApp app)
{
    private readonly HttpClient _anonymous = app.Client(scopes: null);

    [Fact]
    public async Task Health_endpoints_are_anonymous_and_ready_checks_postgresql()
    {
        var (live, _) = await _anonymous.GetJson("/health/live");
        var (ready, report) = await _anonymous.GetJson("/health/ready");

        live.ShouldBe(HttpStatusCode.OK);
        ready.ShouldBe(HttpStatusCode.OK);
        report.Str("status").ShouldBe("Healthy");
        report!["checks"]!.AsArray().Select(c => c.Str("name")).ShouldContain("postgresql");
    }

    [Fact]
    public async Task Metrics_are_prometheus_text()
    {
        await app.Client().GetJson("/v1/wallets/nobody");

        using var response = await _anonymous.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/plain");
        text.ShouldContain("# TYPE http_server_request_duration_seconds histogram");
    }

    [Fact]
    public async Task The_openapi_document_describes_every_endpoint_with_its_body_and_bearer_auth()
    {
        using var response = await _anonymous.GetAsync("/openapi/v1.json");
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        var paths = document["paths"]!.AsObject();
        foreach (var path in new[] { "/v1/plans/{planId}", "/v1/customers/{customerId}", "/v1/wallets/{customerId}",
                     "/v1/wallets/{customerId}/top-ups", "/v1/wallets/{customerId}/debits", "/v1/wallets/{customerId}/adjustments" })
        {
            paths.ContainsKey(path).ShouldBeTrue(path);
        }

        paths["/v1/wallets/{customerId}/top-ups"]!["post"]!["requestBody"]!["content"]!["application/json"].ShouldNotBeNull();
        var debitResponses = paths["/v1/wallets/{customerId}/debits"]!["post"]!["responses"]!.AsObject();
        foreach (var status in new[] { "201", "200", "400", "401", "403", "404", "409", "422" }) debitResponses.ContainsKey(status).ShouldBeTrue(status);
        debitResponses["422"]!["content"]!["application/problem+json"].ShouldNotBeNull();
        paths["/v1/invoices/{invoiceId}/pdf"]!["get"]!["responses"]!["200"]!["content"]!["application/pdf"].ShouldNotBeNull();
        document["components"]!["securitySchemes"]!["bearer"]!.Str("scheme").ShouldBe("bearer");
    }

    [Fact]
    public async Task Interactive_docs_are_served()
    {
        using var redirect = await _anonymous.GetAsync("/docs");
        using var page = await _anonymous.GetAsync("/docs/");
        var html = await page.Content.ReadAsStringAsync();

        redirect.StatusCode.ShouldBe(HttpStatusCode.Found);
        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        html.ShouldContain("scalar");
        html.ShouldContain("openapi");
        html.ShouldContain("v1.json");
    }

    [Fact]
    public async Task Every_response_carries_a_traceparent()
    {
        using var ok = await _anonymous.GetAsync("/health/live");
        using var unauthorized = await _anonymous.GetAsync("/v1/wallets/x");

        ok.Headers.GetValues("traceparent").Single().ShouldMatch("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$");
        unauthorized.Headers.GetValues("traceparent").Single().ShouldMatch("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$");
    }

    [Fact]
    public async Task Unknown_routes_are_404_problem_details()
    {
        using var response = await app.Client().GetAsync("/v1/nothing-here");

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
    }
}
