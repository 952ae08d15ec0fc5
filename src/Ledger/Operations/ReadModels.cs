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
/// One read model of the ledger, kept in one table: the events it is built from, and how a page
/// of them is applied into a table of the same shape. Rebuilt blue/green: the new copy is built in
/// a table of its own beside the live one, which keeps serving and being written, and the two are
/// switched in one short step (<see cref="ProjectionRebuilds"/>). Read models are never a lock, a
/// flag or an input to a decision (those live in the write side: <see cref="Accounts.AccountTable"/>,
/// the usage dedup and running totals, the money-command receipts), so any of them can be rebuilt
/// while the ledger runs.
/// </summary>
public abstract class ReadModel(string name, Type[] eventTypes, string table, int version, bool keptAsync = false, bool perCustomer = false)
{
    public string Name { get; } = name;

    public Type[] EventTypes { get; } = eventTypes;

    /// <summary>The version of the projection's code; a live table built by an older one is rebuilt.</summary>
    public int Version { get; } = version;

    /// <summary>The live table's name, unqualified.</summary>
    public string Table { get; } = table;

    /// <summary>
    /// Kept by the async daemon (not inline): the live table holds exactly the events up to the
    /// daemon's progression, so a rebuild's copy follows that progression, not the event store's head.
    /// </summary>
    public bool Async { get; } = keptAsync;

    /// <summary>One row per customer and a <c>customer_id</c> column: one customer's rows can be rebuilt alone.</summary>
    public bool PerCustomer { get; } = perCustomer;

    /// <summary>The daemon's progression row for it (Marten's shard name).</summary>
    public string ShardName => Name + ":All";

    /// <summary>The same projection, writing into another table of the same shape; one instance per rebuild (it may carry state from page to page).</summary>
    public abstract Common.SetBasedProjection Into(string qualifiedTable);
}

/// <summary>The ledger's read models, by the name the admin API and the command line use.</summary>
public sealed class ReadModels
{
    private readonly Dictionary<string, ReadModel> _byName;

    public ReadModels(IDocumentStore store)
    {
        var serializer = store.Options.Serializer();
        All =
        [
            new SetBased(WalletTable.ProjectionName, WalletTable.Version, WalletTable.Into, WalletTable.TableName, WalletTable.EventTypes, keptAsync: false),
            new SetBased(UsageRollups.ProjectionName, UsageRollups.Version, UsageRollups.Into, UsageRollups.TableName, [typeof(UsageRecorded)], keptAsync: true),
            new Documents<Invoice>("Invoices", Invoice.ProjectionVersion, "mt_doc_invoice", [typeof(InvoiceIssued)], serializer, numericRevisions: false,
                e => e.Data is InvoiceIssued issued ? issued.Invoice.Id : null,
                (_, e) => e.Data is InvoiceIssued issued ? Invoice.From(issued) : null),
            new Documents<Customer>("Customers", Customer.ProjectionVersion, "mt_doc_customer", [typeof(CustomerRegistered), typeof(CustomerUpdated)], serializer,
                numericRevisions: true,
                e => e.Data switch
                {
                    CustomerRegistered r => Common.StreamKeys.Customer(r.CustomerId),
                    CustomerUpdated u => Common.StreamKeys.Customer(u.CustomerId),
                    _ => null,
                },
                (customer, e) => e.Data switch
                {
                    CustomerRegistered r => Customer.Create(r),
                    CustomerUpdated u => customer?.Apply(u),
                    _ => null,
                }),
            new Documents<Plan>("Plans", Plan.ProjectionVersion, "mt_doc_plan", [typeof(PlanVersionPublished)], serializer, numericRevisions: true,
                e => e.Data is PlanVersionPublished p ? Common.StreamKeys.Plan(p.PlanId) : null,
                (plan, e) => e.Data is PlanVersionPublished p ? plan is null ? Plan.Create(p) : plan.Apply(p) : null),
        ];
        _byName = All.ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);
        ProjectionRebuilds.Track(All);
    }

    public IReadOnlyList<ReadModel> All { get; }

    public ReadModel? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>A set-based table projection (<see cref="Common.SetBasedProjection"/>): a page becomes a few SQL statements.</summary>
    private sealed class SetBased(string name, int version, Func<string, Common.SetBasedProjection> into, string table, Type[] eventTypes, bool keptAsync)
        : ReadModel(name, eventTypes, table, version, keptAsync, perCustomer: true)
    {
        public override Common.SetBasedProjection Into(string qualifiedTable) => into(qualifiedTable);
    }

    /// <summary>
    /// A Marten document read model, rebuilt into a copy of its document table: the documents the
    /// events give (by the same Create/Apply the inline projection uses), serialized by the store's
    /// serializer and upserted with Marten's columns, one statement per page.
    /// </summary>
    private sealed class Documents<TDoc>(string name, int version, string table, Type[] eventTypes, ISerializer serializer, bool numericRevisions,
        Func<IEvent, string?> idOf, Func<TDoc?, IEvent, TDoc?> apply) : ReadModel(name, eventTypes, table, version)
        where TDoc : class
    {
        private ISerializer Serializer { get; } = serializer;

        private bool NumericRevisions { get; } = numericRevisions;

        /// <summary>The id of the document an event changes (null: none).</summary>
        private Func<IEvent, string?> IdOf { get; } = idOf;

        /// <summary>The document after the event, from the one before it (null before its first event).</summary>
        private Func<TDoc?, IEvent, TDoc?> Apply { get; } = apply;

        public override Common.SetBasedProjection Into(string qualifiedTable) => new Copy(this, qualifiedTable);

        private sealed class Copy(Documents<TDoc> model, string table) : Common.SetBasedProjection
        {
            // Every document so far, and the stream version of the last event applied to it: a later
            // event of a stream applies to its current state, and an event applied already (a switch
            // tried again after its transaction rolled back) is not applied twice; its document is
            // written again as it stands.
            private readonly Dictionary<string, (TDoc Doc, long Version)> _documents = new(StringComparer.Ordinal);

            public override Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
            {
                var changed = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var e in events)
                {
                    if (model.IdOf(e) is not { } id) continue;
                    var known = _documents.TryGetValue(id, out var current);
                    if (!known || e.Version > current.Version)
                    {
                        if (model.Apply(known ? current.Doc : null, e) is not { } doc) continue;
                        _documents[id] = current = (doc, e.Version);
                    }

                    changed[id] = current.Version;
                }

                if (changed.Count == 0) return Task.CompletedTask;
                var ids = changed.Keys.ToArray();
                var data = ids.Select(id => model.Serializer.ToJson(_documents[id].Doc)).ToArray();
                const string Upsert = "on conflict (id) do update set data = excluded.data, mt_last_modified = excluded.mt_last_modified, mt_version = excluded.mt_version";
                // Marten's revision: the stream's version for an aggregate with numeric revisions, a fresh guid otherwise.
                if (model.NumericRevisions)
                {
                    operations.QueueSqlCommand(
                        $"insert into {table} as d (id, data, mt_last_modified, mt_version, mt_dotnet_type) select id, data, now(), revision, ? " +
                        $"from unnest(?::text[], ?::jsonb[], ?::bigint[]) as u(id, data, revision) {Upsert}",
                        typeof(TDoc).FullName!, ids, data, ids.Select(id => changed[id]).ToArray());
                }
                else
                {
                    operations.QueueSqlCommand(
                        $"insert into {table} as d (id, data, mt_last_modified, mt_version, mt_dotnet_type) select id, data, now(), gen_random_uuid(), ? " +
                        $"from unnest(?::text[], ?::jsonb[]) as u(id, data) {Upsert}",
                        typeof(TDoc).FullName!, ids, data);
                }

                return Task.CompletedTask;
            }
        }
    }
}
