using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Marten.Events.Projections;
using Microsoft.Extensions.DependencyInjection;

namespace Ledger.Common;

/// <summary>
/// A projection into plain tables that handles a whole page of events at once, so that a batch
/// of thousands of usage events becomes a handful of set-based SQL statements queued on the
/// session (and so committed with the events when inline). Registered as an instance with
/// <c>options.Projections.Add(projection, lifecycle, name)</c>.
/// </summary>
public abstract class SetBasedProjection : IProjection
{
    public abstract Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation);

    // Type-based registration (Projections.Add<T>()) is not used for these projections: they are
    // added as instances, which needs no container.
    public static void Register<TConcrete>(IServiceCollection collection, ProjectionLifecycle lifecycle,
        ServiceLifetime lifetime, Action<ProjectionBase>? configure) where TConcrete : class =>
        throw new NotSupportedException("Register set-based projections as instances.");

    public static void Register<TConcrete, TStore>(IServiceCollection collection, ProjectionLifecycle lifecycle,
        ServiceLifetime lifetime, Action<ProjectionBase>? configure) where TStore : IDocumentStore where TConcrete : class =>
        throw new NotSupportedException("Register set-based projections as instances.");
}

/// <summary>
/// A set-based projection whose rows are sums (writes that add): events can be added up in memory
/// one by one as they are read and written now and then, as a rebuild does into its new copy
/// (Operations/ProjectionRebuilds.cs). A rebuild then holds no events, only the rows. The writes of
/// one flush must give what the events' own order gives, whatever page boundaries or flushes fall
/// between them: the wallets insert a wallet before adding its changes (a customer's registration
/// comes before any of its wallet's events: every writer needs the committed account first) and
/// keep the last terms of each wallet.
/// </summary>
public interface IAdditiveProjection
{
    /// <summary>
    /// Adds an event's data up in memory (events come in sequence order). Only the data: a sum
    /// needs none of the event's metadata, and a replay need not wrap every event (Marten's wrapper
    /// draws a new random id for each, a system call here that cost more than reading the event).
    /// </summary>
    void Add(object data);

    /// <summary>Rows added up and not written yet.</summary>
    int PendingRows { get; }

    /// <summary>Queues the rows added up on the session, and starts again from none.</summary>
    void QueueWrite(IDocumentOperations operations);
}

/// <summary>Rows added up in memory from events, and queued as SQL on a session into a table.</summary>
public interface ISums
{
    /// <summary>Adds an event's data up (events come in sequence order).</summary>
    void Add(object data);

    /// <summary>Rows added up so far.</summary>
    int Count { get; }

    void Clear();

    /// <summary>Queues the rows' writes (writes that add) on the session.</summary>
    void Queue(IDocumentOperations operations, string table);
}

/// <summary>
/// An additive projection into one table: a page of events (inline, or a daemon page) becomes its
/// sums, queued at once; a rebuild adds events up across pages (<see cref="IAdditiveProjection"/>).
/// </summary>
public abstract class AdditiveProjection<TSums>(string table) : SetBasedProjection, IAdditiveProjection where TSums : ISums, new()
{
    // A rebuild adds every event up in memory as it is read, and writes the rows now and then
    // (Operations/ProjectionRebuilds.cs): a million-event replay touches far fewer rows.
    private readonly TSums _pending = new();

    public override Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        var sums = new TSums();
        foreach (var e in events) sums.Add(e.Data);
        sums.Queue(operations, table);
        return Task.CompletedTask;
    }

    public void Add(object data) => _pending.Add(data);

    public int PendingRows => _pending.Count;

    public void QueueWrite(IDocumentOperations operations)
    {
        _pending.Queue(operations, table);
        _pending.Clear();
    }
}
