using System.Net.Sockets;
using Npgsql;

namespace Ledger.Hosting;

/// <summary>
/// Tells "PostgreSQL is unavailable, retry later" from a bug. Such failures are answered 503 with
/// <c>Retry-After</c>, never a bare 500, so clients can retry safely (every write is idempotent).
/// </summary>
public static class DatabaseOutage
{
    public const int RetryAfterSeconds = 5;

    /// <summary>
    /// SQLSTATEs that mean the server cannot serve now: connection exceptions (class 08), too many
    /// connections, server shutting down or starting up, a statement cancelled by a timeout, and a
    /// standby that cannot take writes (during a failover).
    /// </summary>
    private static readonly HashSet<string> UnavailableStates = new(StringComparer.Ordinal)
    {
        PostgresErrorCodes.ConnectionException, PostgresErrorCodes.ConnectionDoesNotExist, PostgresErrorCodes.ConnectionFailure,
        PostgresErrorCodes.SqlClientUnableToEstablishSqlConnection, PostgresErrorCodes.SqlServerRejectedEstablishmentOfSqlConnection,
        PostgresErrorCodes.TooManyConnections, PostgresErrorCodes.ConfigurationLimitExceeded,
        PostgresErrorCodes.AdminShutdown, PostgresErrorCodes.CrashShutdown, PostgresErrorCodes.CannotConnectNow,
        PostgresErrorCodes.QueryCanceled, PostgresErrorCodes.ReadOnlySqlTransaction,
    };

    public static bool IsOutage(Exception exception) => Find(exception) is not null;

    /// <summary>A short reason for the log: the SQLSTATE or the transport error, never SQL.</summary>
    public static string Describe(Exception exception) => Find(exception) switch
    {
        PostgresException p => $"PostgreSQL {p.SqlState} {p.MessageText}",
        { } e => e.GetType().Name + ": " + e.Message,
        null => exception.GetType().Name,
    };

    private static Exception? Find(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException p when UnavailableStates.Contains(p.SqlState):
                    return p;
                case PostgresException:
                    return null;
                case NpgsqlException { IsTransient: true } n:
                    return n;
                case SocketException or TimeoutException or EndOfStreamException:
                    return e;
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Select(Find).FirstOrDefault(found => found is not null);
            }
        }

        return null;
    }
}
