using Ledger.Hosting;
using Marten;
using Npgsql;

namespace Ledger.Common;

/// <summary>
/// One PostgreSQL transaction shared by plain SQL (locks, dedup, counters) and a Marten session
/// (events, documents, inline projections), committed once.
/// </summary>
public sealed class LedgerTransaction : IAsyncDisposable
{
    private LedgerTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, IDocumentSession session)
    {
        Connection = connection;
        Transaction = transaction;
        Session = session;
    }

    public NpgsqlConnection Connection { get; }

    public NpgsqlTransaction Transaction { get; }

    public IDocumentSession Session { get; }

    public static async Task<LedgerTransaction> BeginAsync(IDocumentStore store, NpgsqlDataSource dataSource, CancellationToken cancellation)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellation);
        try
        {
            var transaction = await connection.BeginTransactionAsync(cancellation);
            var session = store.LightweightSession(Marten.Services.SessionOptions.ForTransaction(transaction));
            return new LedgerTransaction(connection, transaction, session);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public NpgsqlCommand Command(string sql)
    {
        var command = Connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = Transaction;
        return command;
    }

    /// <summary>Saves the session's pending changes and commits everything.</summary>
    public async Task CommitAsync(CancellationToken cancellation)
    {
        await Session.SaveChangesAsync(cancellation);
        await Transaction.CommitAsync(cancellation);
    }

    public async ValueTask DisposeAsync()
    {
        await Session.DisposeAsync();
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
