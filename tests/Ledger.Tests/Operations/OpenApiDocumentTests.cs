using System.Diagnostics;
using System.Text.Json.Nodes;
using Ledger.Hosting;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

/// <summary>
/// The OpenAPI document people read: every operation titled by a summary (not its route) with a
/// description, request bodies requiring what the endpoints require, both usage content types, and
/// Redocly's linter (<c>redocly lint</c>, recommended rules) without a warning.
/// </summary>
[Collection(LedgerCollection.Name)]
public class OpenApiDocumentTests(LedgerApp app)
{
    [Fact]
    public async Task Every_operation_has_a_summary_and_bodies_require_what_the_endpoints_require()
    {
        var document = JsonNode.Parse(await app.Client(scopes: null).GetStringAsync("/openapi/v1.json"))!;
        var operations = document["paths"]!.AsObject()
            .SelectMany(p => p.Value!.AsObject().Select(m => (Path: p.Key, Method: m.Key, Operation: m.Value!))).ToList();
        operations.Count.ShouldBeGreaterThanOrEqualTo(20);
        foreach (var (path, method, operation) in operations)
        {
            var id = operation["operationId"]!.GetValue<string>();
            OpenApiOperations.ByOperationId.ShouldContainKey(id, $"{method} {path}");
            operation["summary"]!.GetValue<string>().ShouldBe(OpenApiOperations.ByOperationId[id].Summary);
            operation["description"]!.GetValue<string>().Length.ShouldBeGreaterThan(20);
        }

        string[] Required(string path, string method, string mediaType = "application/json") =>
            document["paths"]![path]![method]!["requestBody"]!["content"]![mediaType]!["schema"]!["required"]!.AsArray().Select(r => r!.GetValue<string>()).Order().ToArray();

        Required("/v1/wallets/{customerId}/top-ups", "post").ShouldBe(["amount", "id"]);
        Required("/v1/wallets/{customerId}/debits", "post").ShouldBe(["amount", "id", "reason"]);
        Required("/v1/wallets/{customerId}/adjustments", "post").ShouldBe(["amount", "id", "reason"]);
        Required("/v1/customers/{customerId}", "put").ShouldBe(["currency", "name", "planId"]);
        Required("/v1/plans/{planId}", "put").ShouldBe(["currency", "meters"]);
        Required("/v1/usage", "post").ShouldBe(["events"]);
        document["paths"]!["/v1/usage"]!["post"]!["requestBody"]!["content"]!.AsObject().Select(c => c.Key)
            .ShouldBe(["application/json", "application/cloudevents-batch+json"], ignoreOrder: true);
        document["tags"]!.AsArray().ShouldAllBe(t => t!["description"] != null);
    }

    [Fact]
    public async Task Redocly_lints_the_document_without_a_warning()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ledger-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, await app.Client(scopes: null).GetStringAsync("/openapi/v1.json"));
        try
        {
            var start = new ProcessStartInfo("redocly", ["lint", path, "--format=json"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, Environment = { ["REDOCLY_TELEMETRY"] = "off", ["NO_COLOR"] = "1" },
            };
            using var redocly = Process.Start(start) ?? throw new InvalidOperationException("redocly is not on PATH: run the tests with ./scripts/test.sh");
            var report = await redocly.StandardOutput.ReadToEndAsync();
            var log = await redocly.StandardError.ReadToEndAsync();
            await redocly.WaitForExitAsync();
            redocly.ExitCode.ShouldBe(0, log + report);
            // The recommended rule set's verdict, as JSON (Node.js's own notices go to standard error).
            var totals = JsonNode.Parse(report)!["totals"]!;
            totals["errors"]!.GetValue<int>().ShouldBe(0, report);
            totals["warnings"]!.GetValue<int>().ShouldBe(0, report);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
