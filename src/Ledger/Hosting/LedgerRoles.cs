namespace Ledger.Hosting;

/// <summary>
/// The roles one image can run, chosen by <c>Ledger:Roles</c> (comma-separated; default all):
/// <c>api</c> serves HTTP, <c>ingest</c> consumes Kafka, <c>projections</c> runs the async daemon.
/// Health, metrics and docs are served in every role.
/// </summary>
public sealed record LedgerRoles(bool Api, bool Ingest, bool Projections)
{
    public static LedgerRoles From(IConfiguration configuration)
    {
        var text = configuration["Ledger:Roles"];
        if (string.IsNullOrWhiteSpace(text)) return new LedgerRoles(true, true, true);

        var roles = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => r.ToLowerInvariant()).ToHashSet();
        var unknown = roles.Except(["api", "ingest", "projections"]).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException($"Unknown role(s) in Ledger:Roles: {string.Join(", ", unknown)}. Use api, ingest, projections.");
        }

        return new LedgerRoles(roles.Contains("api"), roles.Contains("ingest"), roles.Contains("projections"));
    }
}
