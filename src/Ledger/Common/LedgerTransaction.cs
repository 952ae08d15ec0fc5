using Marten;
using Npgsql;

namespace Ledger.Common;

/// <summary>
/// One PostgreSQL transaction shared by plain SQL (locks, dedup, counters) and a Marten session
/// (events, documents, inline projections): the session's own transaction, so that committing is
/// the session's <c>SaveChangesAsync</c> and whatever listens for the commit (Wolverine's outbox,
/// which sends the messages of the transaction only once it committed) hears of the real commit.
/// </summary>
public sealed class LedgerTransaction : IAsyncDisposable
{
    private LedgerTransaction(IDocumentSession session) => Session = session;

    public IDocumentSession Session { get; }

    public NpgsqlConnection Connection => Session.Connection!;

    public static async Task<LedgerTransaction> BeginAsync(IDocumentStore store, CancellationToken cancellation)
    {
        var session = store.LightweightSession();
        try
        {
            await session.BeginTransactionAsync(cancellation);
            return new LedgerTransaction(session);
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>A command in the transaction (Npgsql runs every command of a connection in its open transaction).</summary>
    public NpgsqlCommand Command(string sql)
    {
        var command = Connection.CreateCommand();
        command.CommandText = sql;
        return command;
    }

    /// <summary>Saves the session's pending changes and commits everything.</summary>
    public Task CommitAsync(CancellationToken cancellation) => Session.SaveChangesAsync(cancellation);

    public ValueTask DisposeAsync() => Session.DisposeAsync();
}
