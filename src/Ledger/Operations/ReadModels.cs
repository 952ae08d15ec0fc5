using JasperFx.Events;
using Ledger.Customers;
using Ledger.Invoicing;
using Ledger.Metering;
using Ledger.Metering.Rollups;
using Ledger.Plans;
using Ledger.Wallets;
using Marten;

namespace Ledger.Operations;

/// <summary>
/// One read model of the ledger: the tables it lives in, the events it is built from, and how a
/// page of those events is applied. Read models are never a lock, a flag or an input to a
/// decision (those live in the write side: <see cref="Accounts.AccountTable"/>, the usage dedup
/// and running totals, the money-command receipts), so any of them can be emptied and rebuilt
/// while the ledger runs.
/// </summary>
public abstract class ReadModel(string name, Type[] eventTypes)
{
    public string Name { get; } = name;

    public Type[] EventTypes { get; } = eventTypes;

    /// <summary>Every table the read model writes, schema-qualified.</summary>
    public abstract IReadOnlyList<string> Tables(string schema);

    /// <summary>Applies a page of events (in sequence order) to the session; <paramref name="state"/> carries what one page leaves to the next.</summary>
    public abstract Task ApplyAsync(IDocumentSession session, IReadOnlyList<IEvent> page, Dictionary<string, object> state, CancellationToken cancellation);
}

/// <summary>
/// A read model kept in one plain table, rebuilt blue/green: the new copy is built in a table of
/// its own beside the live one, which keeps serving and being written, and the two are switched
/// in one short step (<see cref="ProjectionRebuilds"/>).
/// </summary>
public abstract class BlueGreenReadModel(string name, Type[] eventTypes, string table, int version, bool keptAsync) : ReadModel(name, eventTypes)
{
    /// <summary>
    /// Kept by the async daemon (not inline): the live table holds exactly the events up to the
    /// daemon's progression, so a rebuild's copy follows that progression, not the event store's head.
    /// </summary>
    public bool Async { get; } = keptAsync;

    /// <summary>The daemon's progression row for it (Marten's shard name).</summary>
    public string ShardName => Name + ":All";

    /// <summary>The version of the projection's code; a live table built by an older one is rebuilt.</summary>
    public int Version { get; } = version;

    /// <summary>The live table's name, unqualified.</summary>
    public string Table { get; } = table;

    /// <summary>The same projection, writing into another table of the same shape.</summary>
    public abstract Common.SetBasedProjection Into(string qualifiedTable);
}

/// <summary>The ledger's read models, by the name the admin API and the command line use.</summary>
public sealed class ReadModels
{
    private readonly Dictionary<string, ReadModel> _byName;

    public ReadModels(IDocumentStore store)
    {
        var schema = store.Options.DatabaseSchemaName;
        All =
        [
            new SetBased(WalletTable.ProjectionName, WalletTable.Version, new WalletTable(schema), WalletTable.Into, WalletTable.TableName, WalletTable.EventTypes,
                keptAsync: false),
            new SetBased(UsageRollups.ProjectionName, UsageRollups.Version, new UsageRollups(schema), UsageRollups.Into, UsageRollups.TableName,
                [typeof(UsageRecorded)], keptAsync: true),
            new Invoices(),
            new Aggregates<Customer, CustomerRegistered, CustomerUpdated>("Customers", "mt_doc_customer",
                Customer.Create, (c, e) => c.Apply(e), e => Common.StreamKeys.Customer(e.CustomerId), e => Common.StreamKeys.Customer(e.CustomerId)),
            new Aggregates<Plan, PlanVersionPublished, PlanVersionPublished>("Plans", "mt_doc_plan",
                Plan.Create, (p, e) => p.Apply(e), e => Common.StreamKeys.Plan(e.PlanId), e => Common.StreamKeys.Plan(e.PlanId)),
        ];
        _byName = All.ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);
        ProjectionRebuilds.Track(All);
    }

    public IReadOnlyList<ReadModel> All { get; }

    public ReadModel? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>
    /// A set-based table projection (<see cref="Common.SetBasedProjection"/>): a page becomes a few
    /// SQL statements. Rebuilt blue/green: into a new copy of its table beside the live one.
    /// </summary>
    private sealed class SetBased(string name, int version, Common.SetBasedProjection projection, Func<string, Common.SetBasedProjection> into,
        string table, Type[] eventTypes, bool keptAsync) : BlueGreenReadModel(name, eventTypes, table, version, keptAsync)
    {
        public override IReadOnlyList<string> Tables(string schema) => [$"{schema}.{Table}"];

        public override Task ApplyAsync(IDocumentSession session, IReadOnlyList<IEvent> page, Dictionary<string, object> state, CancellationToken cancellation) =>
            projection.ApplyAsync(session, page, cancellation);

        public override Common.SetBasedProjection Into(string qualifiedTable) => into(qualifiedTable);
    }

    /// <summary>Invoice documents, one per <see cref="InvoiceIssued"/>, through the same projection that keeps them inline.</summary>
    private sealed class Invoices() : ReadModel("Invoices", [typeof(InvoiceIssued)])
    {
        private readonly InvoiceProjection _projection = new();

        public override IReadOnlyList<string> Tables(string schema) => [$"{schema}.mt_doc_invoice"];

        public override async Task ApplyAsync(IDocumentSession session, IReadOnlyList<IEvent> page, Dictionary<string, object> state, CancellationToken cancellation)
        {
            foreach (var e in page) await _projection.ApplyAsync(session, e, cancellation);
        }
    }

    /// <summary>A document per stream folded by the same Create/Apply the inline projection uses.</summary>
    private sealed class Aggregates<TDoc, TCreated, TChanged>(string name, string table, Func<TCreated, TDoc> create, Func<TDoc, TChanged, TDoc> apply,
        Func<TCreated, string> createdId, Func<TChanged, string> changedId) : ReadModel(name, [typeof(TCreated), typeof(TChanged)])
        where TDoc : notnull
    {
        public override IReadOnlyList<string> Tables(string schema) => [$"{schema}.{table}"];

        public override Task ApplyAsync(IDocumentSession session, IReadOnlyList<IEvent> page, Dictionary<string, object> state, CancellationToken cancellation)
        {
            var touched = new HashSet<string>(StringComparer.Ordinal);
            foreach (var e in page)
            {
                // The first event of a stream creates the document; a plan's later versions are the same event type.
                if (e.Data is TCreated created && !state.ContainsKey(createdId(created)))
                {
                    state[createdId(created)] = create(created);
                    touched.Add(createdId(created));
                }
                else if (e.Data is TChanged changed && state.TryGetValue(changedId(changed), out var current))
                {
                    state[changedId(changed)] = apply((TDoc)current, changed);
                    touched.Add(changedId(changed));
                }
            }

            foreach (var id in touched) session.Store((TDoc)state[id]);
            return Task.CompletedTask;
        }
    }
}
