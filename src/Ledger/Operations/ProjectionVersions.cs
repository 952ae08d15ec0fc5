using Ledger.Hosting;
using Marten;

namespace Ledger.Operations;

/// <summary>
/// Projection versions for the read models: each declares the version of what its code writes
/// (<c>WalletTable.Version</c>, <c>Invoice.ProjectionVersion</c>, …), and <c>projection_versions</c> records the version
/// its live table was built by. At start, on a node with the <c>projections</c> role, a read model
/// whose live table is older than its code is rebuilt blue/green — the new copy built beside the
/// live one, which keeps serving, and switched when caught up — and the new version recorded in
/// the switch's transaction. A read model seen for the first time is recorded at its current
/// version (a new ledger, or one from before versions were kept).
/// </summary>
public sealed class ProjectionVersions(IDocumentStore store, ReadModels models, ProjectionRebuilds rebuilds, LedgerRoles roles,
    TimeProvider clock, ILogger<ProjectionVersions> logger) : IHostedService
{
    /// <summary>Starts a rebuild of every table read model whose live table is older than its code; returns the rebuilds started.</summary>
    public async Task<List<RebuildStatus>> CheckAsync(CancellationToken cancellation)
    {
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var schema = store.Options.DatabaseSchemaName;
        var tableModels = models.All.ToList();
        await using (var session = store.LightweightSession())
        {
            foreach (var model in tableModels)
            {
                session.QueueSqlCommand($"insert into {schema}.{ProjectionRebuilds.VersionsTable} (projection, version, built_at) values (?, ?, ?) " +
                                        "on conflict (projection) do nothing", model.Name, model.Version, clock.GetUtcNow());
            }

            await session.SaveChangesAsync(cancellation);
        }

        var live = await rebuilds.LiveVersionsAsync(cancellation);
        var started = new List<RebuildStatus>();
        foreach (var model in tableModels.Where(m => live.GetValueOrDefault(m.Name, m.Version) < m.Version))
        {
            var (status, isNew) = await rebuilds.StartAsync(model, verify: false, cancellation);
            logger.LogInformation("{Projection}: live table built by version {Live}, code at version {Version}: {What}", model.Name,
                live[model.Name], model.Version, isNew ? "rebuilding blue/green" : "a rebuild is already running");
            started.Add(status);
        }

        return started;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!roles.Projections) return Task.CompletedTask;
        // In the background: a rebuild must not hold the node's start-up.
        _ = Task.Run(async () =>
        {
            try
            {
                await CheckAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                logger.LogError(e, "Checking the read models' versions failed; they stay as they are");
            }
        }, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
