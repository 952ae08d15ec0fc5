using System.Diagnostics;
using System.Diagnostics.Metrics;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Ledger.Hosting;

/// <summary>OpenTelemetry for the whole host, set up once: traces, metrics, Prometheus, OTLP.</summary>
public static class Observability
{
    public const string ServiceName = "ledger";

    /// <summary>The ledger's own instruments.</summary>
    public static readonly Meter Meter = new("Ledger");

    public static readonly ActivitySource ActivitySource = new("Ledger");

    public static IServiceCollection AddLedgerObservability(this IServiceCollection services, IConfiguration configuration)
    {
        // Traces go to an OTLP collector when one is configured; metrics are pulled by Prometheus from /metrics.
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(configuration["OTEL_SERVICE_NAME"] ?? ServiceName))
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(options => options.Filter = http =>
                    !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/health"))
                .AddNpgsql()
                .AddSource("Wolverine", "Marten", ActivitySource.Name)
                .AddOtlpExporterWhen(otlp))
            .WithMetrics(metrics => metrics
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddMeter("Wolverine*", "Marten", "Npgsql", Meter.Name) // Wolverine's meter is named "Wolverine:{service name}"
                .AddPrometheusExporter());

        return services;
    }

    private static TracerProviderBuilder AddOtlpExporterWhen(this TracerProviderBuilder tracing, bool enabled) =>
        enabled ? tracing.AddOtlpExporter() : tracing;

    /// <summary>Answers the W3C <c>traceparent</c> of the request's trace on every response.</summary>
    public static IApplicationBuilder UseTraceparentHeader(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        http.Response.OnStarting(() =>
        {
            if (Activity.Current is { } activity) http.Response.Headers["traceparent"] = activity.Id;
            return Task.CompletedTask;
        });
        return next(http);
    });
}
