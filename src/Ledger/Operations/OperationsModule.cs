using Marten;

namespace Ledger.Operations;

public static class OperationsModule
{
    public static void Configure(StoreOptions options)
    {
        options.Storage.ExtendedSchemaObjects.Add(ProjectionRebuilds.Definition(options.DatabaseSchemaName));
        options.Storage.ExtendedSchemaObjects.Add(ProjectionRebuilds.VersionsDefinition(options.DatabaseSchemaName));
    }

    public static IServiceCollection AddOperations(this IServiceCollection services) =>
        services.AddSingleton<ReadModels>().AddSingleton<ProjectionRebuilds>()
            .AddSingleton<ProjectionVersions>().AddHostedService(sp => sp.GetRequiredService<ProjectionVersions>())
            .AddSingleton<DaemonProgress>().AddHostedService(sp => sp.GetRequiredService<DaemonProgress>());
}
