using Npgsql;

namespace Ledger.Common;

/// <summary>Transaction-scoped advisory locks: serialize writers on a key whether or not any row exists for it yet.</summary>
public static class Advisory
{
    public static async Task LockAsync(NpgsqlConnection connection, string key, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "select pg_advisory_xact_lock(hashtextextended($1, 0))";
        command.Parameters.Add(new NpgsqlParameter { Value = key });
        await command.ExecuteNonQueryAsync(cancellation);
    }
}
