using JasperFx.Events.Projections;
using Ledger.Metering.Ingestion;
using Ledger.Metering.Rollups;
using Ledger.Wallets;
using Marten;
using Npgsql;

namespace Ledger.Metering;

public static class MeteringModule
{
    public static void Configure(StoreOptions options)
    {
        var schema = options.DatabaseSchemaName;
        options.Events.AddEventType<UsageRecorded>();
        foreach (var table in MeteringSchema.Tables(schema)) options.Storage.ExtendedSchemaObjects.Add(table);
        options.Storage.ExtendedSchemaObjects.Add(UsageRollups.Definition(schema));

        // Async: kept by the async daemon on the projections nodes (HotCold: one node runs it, the
        // others stand by and take over when it dies), one upsert per page of events, committed with
        // the daemon's progression, so a page is applied exactly once. Ingestion no longer pays for
        // it; usage shows in the rollups once the daemon has caught up (ledger_projection_lag).
        // The wallet view stays inline: a balance is read right after the write that changed it.
        options.Projections.Add(new UsageRollups(schema), ProjectionLifecycle.Async, UsageRollups.ProjectionName,
            daemon =>
            {
                // For Marten's own offline `projections rebuild`; the ledger rebuilds through Operations/ProjectionRebuilds.cs.
                daemon.DeleteDataInTableOnTeardown($"{schema}.{UsageRollups.TableName}");
                // Large pages: one set-based statement covers thousands of events.
                daemon.BatchSize = 5000;
                daemon.MaximumHopperSize = 20000;
            });
    }

    public static IServiceCollection AddMetering(this IServiceCollection services)
    {
        services.AddSingleton<CustomerDirectory>();
        services.AddSingleton<UsageWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<UsageWriter>());
        services.AddHostedService<EventIndexes>();
        return services;
    }

    /// <summary>
    /// Indexes on Marten's event table that the ledger's queries need (Marten does not declare
    /// expression indexes on it). Runs after Marten has applied its schema at start-up.
    /// </summary>
    private sealed class EventIndexes(IDocumentStore store, NpgsqlDataSource dataSource) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
            var schema = store.Options.DatabaseSchemaName;
            await using var command = dataSource.CreateCommand(WalletHistory.IndexDdl(schema) + "; " + Audit.AuditTrail.IndexDdl(schema) + "; " + HotUpdates(schema));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        /// <summary>
        /// The rows every usage flush or daemon page updates (accounts, wallet view, running totals, rollups) keep free room
        /// in their pages, so PostgreSQL updates them in place (HOT: no index entry per update). Only
        /// when not set yet: an ALTER waits for a running rebuild's table lock, and a restarting node
        /// must not hang behind it.
        /// </summary>
        private static string HotUpdates(string schema) => string.Join("; ",
            new[] { Accounts.AccountTable.TableName, WalletTable.TableName, MeteringSchema.PeriodTotals, UsageRollups.TableName }
                .Select(table => "do $$ begin if not exists (select 1 from pg_class where oid = " +
                                 $"'{schema}.{table}'::regclass and reloptions @> array['fillfactor=50']) " +
                                 $"then alter table {schema}.{table} set (fillfactor = 50); end if; end $$"));
    }
}
