using Npgsql;

namespace Ledger.Operations;

/// <summary>
/// For writers whose inline projection reads the current document before it writes the new one
/// (Marten's single-stream projections: customers, plans): taking the document table in ROW
/// EXCLUSIVE mode before that read waits for a running rebuild (which holds it EXCLUSIVE), so the
/// writer reads the rebuilt document, not the one the rebuild replaced. Without a rebuild it
/// conflicts with nothing the writers take.
/// </summary>
public static class ReadModelLock
{
    public static async Task WaitForRebuildAsync(NpgsqlConnection connection, string table, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"lock table {table} in row exclusive mode";
        await command.ExecuteNonQueryAsync(cancellation);
    }
}
