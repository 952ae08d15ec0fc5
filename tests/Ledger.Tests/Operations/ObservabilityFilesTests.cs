using System.Diagnostics.Metrics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

/// <summary>
/// The Grafana dashboard and the Prometheus alert rules in deploy/ only name series the service
/// exports: every metric in a panel or a rule is an instrument the running host publishes, under
/// the name the Prometheus exporter gives it.
/// </summary>
// The Kafka host, so that the Kafka consumers' instruments exist too.
[Collection(KafkaCollection.Name)]
public partial class ObservabilityFilesTests(KafkaLedgerApp app)
{
    [Fact]
    public void Every_series_the_dashboard_and_the_alert_rules_name_is_exported()
    {
        _ = app.Host; // the host is up: ASP.NET Core's, Marten's and Wolverine's meters exist
        var exported = ExportedSeries();
        exported.ShouldContain("ledger_usage_recorded_total");
        exported.ShouldContain("http_server_request_duration_seconds");

        var root = LedgerApp.RepositoryRoot();
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "deploy", "grafana", "dashboards", "ledger.json")))!;
        var panels = dashboard["panels"]!.AsArray();
        panels.Count.ShouldBeGreaterThanOrEqualTo(8);
        var expressions = panels.SelectMany(p => p!["targets"]!.AsArray().Select(t => t!["expr"]!.GetValue<string>())).ToList();
        // The rules file whole: its expressions and the series its annotations point to.
        var rules = File.ReadAllText(Path.Combine(root, "deploy", "prometheus", "rules.yml"));
        Regex.Matches(rules, @"- alert: ").Count.ShouldBeGreaterThanOrEqualTo(4);
        expressions.Add(rules);

        var named = expressions.SelectMany(e => SeriesName().Matches(e).Select(m => m.Value)).Distinct().ToList();
        named.ShouldNotBeEmpty();
        foreach (var series in named)
        {
            var name = Regex.Replace(series, "_(bucket|sum|count)$", "");
            exported.ShouldContain(name, $"deploy/ names {series}, which the service does not export");
        }
    }

    [GeneratedRegex(@"\b(ledger|http_server|marten|wolverine)_[a-z0-9_]+\b")]
    private static partial Regex SeriesName();

    /// <summary>
    /// Every instrument published in this process, named as the Prometheus exporter names it:
    /// dots to underscores, <c>_seconds</c> for a unit of <c>s</c>, <c>_total</c> for counters.
    /// The ledger's instruments live in static fields: their classes are initialized first.
    /// </summary>
    private static HashSet<string> ExportedSeries()
    {
        foreach (var type in typeof(Ledger.Hosting.Observability).Assembly.GetTypes())
        {
            if (type.IsGenericTypeDefinition) continue;
            if (type.GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public).Any(f => typeof(Instrument).IsAssignableFrom(f.FieldType)))
                RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                var name = instrument.Name.Replace('.', '_').Replace('-', '_');
                if (instrument.Unit == "s" && !name.EndsWith("_seconds", StringComparison.Ordinal)) name += "_seconds";
                if (instrument.Unit == "ms" && !name.EndsWith("_milliseconds", StringComparison.Ordinal)) name += "_milliseconds";
                var counter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal) ||
                              instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal);
                lock (names) names.Add(counter ? name + "_total" : name);
            },
        };
        listener.Start();
        return names;
    }
}
