using System.Text.Json;
using HealthChecks.NpgSql;
using JasperFx;
using JasperFx.Events;
using Ledger.Accounts;
using Ledger.Audit;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Metering.Kafka;
using Ledger.Operations;
using Npgsql;
using Ledger.Plans;
using Ledger.Wallets;
using Marten;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Scalar.AspNetCore;
using Weasel.Core;
using Wolverine;
using Wolverine.Http;
using Wolverine.Marten;

namespace Ledger.Hosting;

/// <summary>Composition of the host: one place that wires every module and cross-cutting concern.</summary>
public static class LedgerHost
{
    public const int MaxRequestBodyBytes = 6 * 1024 * 1024;

    public static WebApplicationBuilder AddLedger(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var connectionString = ConnectionString(configuration);
        var roles = LedgerRoles.From(configuration);
        builder.Services.AddSingleton(roles);
        builder.Services.AddSingleton(TimeProvider.System);

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            RequestLimits.Configure(kestrel.Limits);
        });

        var dataSourceBuilder = new NpgsqlDataSourceBuilder(connectionString) { Name = "ledger" };
        // Every connection carries the node's name, so PostgreSQL (pg_stat_activity) and the admin API
        // can say which node holds what, such as the async daemon's lock.
        dataSourceBuilder.ConnectionStringBuilder.ApplicationName ??= NodeName(configuration);
        var dataSource = dataSourceBuilder.Build();
        builder.Services.AddSingleton(dataSource);

        builder.Services.AddMarten(options =>
            {
                options.DatabaseSchemaName = configuration["Ledger:Schema"] ?? "ledger";
                options.UseSystemTextJsonForSerialization(EnumStorage.AsString, Casing.CamelCase);
                options.Events.StreamIdentity = StreamIdentity.AsString;
                // Quick append: one round trip per stream, server-assigned versions and sequences.
                options.Events.AppendMode = EventAppendMode.Quick;
                options.Events.MetadataConfig.CorrelationIdEnabled = true;
                options.Events.MetadataConfig.CausationIdEnabled = true;
                options.Events.MetadataConfig.UserNameEnabled = true;
                options.Events.MetadataConfig.HeadersEnabled = true;
                options.OpenTelemetry.TrackConnections = JasperFx.OpenTelemetry.TrackLevel.Normal;
                // No retried commits: Marten's write retry replays only its own batch, on a new connection,
                // while the ledger's sessions also run SQL of their own in the same transaction (account
                // locks, usage dedup claims, running totals). A failed commit fails; the callers answer
                // 409 or 503 and clients retry by id, which is idempotent.
                options.ConfigureWritePolly(_ => { });
                // Marten's meter: events appended, by type (marten_event_append_events_total).
                options.OpenTelemetry.TrackEventCounters();
                options.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;

                AccountsModule.Configure(options);
                PlansModule.Configure(options);
                CustomersModule.Configure(options);
                WalletsModule.Configure(options);
                MeteringModule.Configure(options);
                InvoicingModule.Configure(options);
                OperationsModule.Configure(options);
                AuditModule.Configure(options);
            })
            .UseNpgsqlDataSource()
            .AddAsyncDaemon(DaemonMode(configuration, roles))
            .UseLightweightSessions()
            .IntegrateWithWolverine()
            .ApplyAllDatabaseChangesOnStartup();

        builder.Services.AddMetering();
        builder.Services.AddKafkaBridge(Metering.Kafka.KafkaSettings.From(configuration), roles);
        builder.Services.AddOperations();
        builder.Services.AddAudit();

        builder.Host.UseWolverine(options =>
        {
            options.ApplicationAssembly = typeof(LedgerHost).Assembly;
            // The handler code is generated ahead of time (src/Ledger/Internal/Generated, `codegen write`)
            // and compiled into the assembly: no Roslyn at start-up or first request. Auto falls back
            // to compiling at run time if a type is missing, and test.sh fails if the files are stale.
            options.CodeGeneration.TypeLoadMode = JasperFx.CodeGeneration.TypeLoadMode.Auto;
            options.Durability.Mode = Enum.Parse<DurabilityMode>(configuration["Ledger:Durability"] ?? nameof(DurabilityMode.Balanced), ignoreCase: true);
            // A node that dies with integration events still in its outbox: the others see its heartbeat
            // stop (every 5 s; stale after 20 s, ejected on the second stale look) and send its envelopes.
            // Wolverine's defaults (10 s, 1 min) left them waiting 76 s in the fault harness; consumers
            // deduplicate by id, so a live node taken for dead costs a duplicate at worst.
            options.Durability.HealthCheckPollingTime = TimeSpan.FromSeconds(5);
            options.Durability.StaleNodeTimeout = TimeSpan.FromSeconds(20);
            LedgerCommands.Configure(options);
            Integration.KafkaTransport.Configure(options, KafkaSettings.From(configuration));
        });
        builder.Services.AddWolverineHttp();

        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase);
        builder.Services.AddLedgerAuthentication(configuration);
        builder.Services.AddLedgerProblemDetails();
        builder.Services.AddLedgerRateLimits(configuration);
        builder.Services.AddLedgerOpenApi();
        builder.Services.AddLedgerObservability(configuration);
        builder.Services.AddHealthChecks()
            .AddNpgSql(connectionString, name: "postgresql", tags: ["ready"], timeout: TimeSpan.FromSeconds(3));

        return builder;
    }

    public static WebApplication UseLedger(this WebApplication app)
    {
        var roles = app.Services.GetRequiredService<LedgerRoles>();
        // The read models are known from the start: their lag gauge (ledger_projection_lag) reports 0 until a rebuild moves it.
        _ = app.Services.GetRequiredService<ReadModels>();

        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseTraceparentHeader();
        app.UseRequestLimits();
        app.UseAuthentication();
        if (RateLimits.Enabled(app.Configuration)) app.UseRateLimiter();
        app.UseAuthorization();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealth });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapScalarApiReference("/docs", options =>
        {
            options
                .WithTitle("Ledger API")
                .WithOpenApiRoutePattern("/openapi/{documentName}.json")
                .AddPreferredSecuritySchemes("bearer");
            // The reference and "try it", nothing unrelated: no developer toolbar, no AI agent, no MCP
            // button, no telemetry to a third party; operations titled by their summaries.
            options.ShowDeveloperTools = DeveloperToolsVisibility.Never;
            options.Agent = new ScalarAgentOptions { Disabled = true };
            options.Mcp = new ScalarMcpOptions { Disabled = true };
            options.Telemetry = false;
            options.HideClientButton = true;
        });

        if (roles.Api)
        {
            app.MapWolverineEndpoints();
        }

        return app;
    }

    /// <summary>
    /// The async daemon runs in the projections role: <c>HotCold</c> by default (one node holds
    /// each projection, others stand by), <c>Solo</c> for a single node or tests.
    /// </summary>
    private static JasperFx.Events.Daemon.DaemonMode DaemonMode(IConfiguration configuration, LedgerRoles roles) =>
        !roles.Projections
            ? JasperFx.Events.Daemon.DaemonMode.Disabled
            : Enum.Parse<JasperFx.Events.Daemon.DaemonMode>(configuration["Ledger:Daemon"] ?? "HotCold", ignoreCase: true);

    /// <summary>This node's name: <c>Ledger:NodeName</c>, or the host name (a pod's name) and process id.</summary>
    public static string NodeName(IConfiguration configuration) =>
        configuration["Ledger:NodeName"] is { Length: > 0 } name ? name : $"ledger-{Environment.MachineName}-{Environment.ProcessId}";

    public static string ConnectionString(IConfiguration configuration) =>
        configuration.GetConnectionString("Ledger") ?? configuration["LEDGER_CONNECTION"]
        ?? throw new InvalidOperationException(
            "No PostgreSQL connection: set LEDGER_CONNECTION or ConnectionStrings__Ledger (./scripts/run.sh starts a local PostgreSQL for you).");

    private static Task WriteHealth(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), durationMs = (int)e.Value.Duration.TotalMilliseconds }),
        });
    }
}
