using System.Globalization;
using CsvHelper;
using Ledger.Common;
using Ledger.Customers;
using Ledger.Hosting;
using Ledger.Invoicing;
using Ledger.Metering;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Wolverine.Http;

namespace Ledger.Wallets;

public sealed record StatementEntry(
    string Type,
    string Id,
    string Amount,
    string BalanceAfter,
    string OccurredAt,
    string RecordedAt,
    string? Actor,
    IReadOnlyList<string>? UsageIds);

public sealed record StatementResponse(
    string CustomerId,
    string Currency,
    string From,
    string To,
    string OpeningBalance,
    IReadOnlyList<StatementEntry> Entries,
    string ClosingBalance);

/// <summary>
/// A wallet statement for finance, folded from the wallet's events as the ledger recorded them:
/// the balance before <c>from</c>, every movement recorded in <c>[from, to)</c> with the balance
/// after it and who caused it, and the balance at <c>to</c>. Usage debits are one entry per
/// accepted batch (one usage stream), listing the usage event ids it covers.
/// </summary>
public static class Statements
{
    public static StatementResponse Build(string customerId, IReadOnlyList<WalletHistory.Entry> history, DateTimeOffset from, DateTimeOffset to)
    {
        Wallet? wallet = null;
        Money? opening = null;
        var entries = new List<StatementEntry>();
        (string Stream, List<string> Ids, decimal Amount, DateTimeOffset OccurredAt, DateTimeOffset RecordedAt, string? Actor)? usage = null;

        void FlushUsage()
        {
            if (usage is not { } u) return;
            entries.Add(new StatementEntry("usage", u.Stream, new Money(-u.Amount, wallet!.Currency).ToLedgerString(), wallet.Balance.ToLedgerString(),
                Timestamps.Format(u.OccurredAt), Timestamps.Format(u.RecordedAt), u.Actor, u.Ids));
            usage = null;
        }

        foreach (var entry in history.Where(e => e.RecordedAt < to))
        {
            // A batch's entry ends where something else begins: its balance is the one before that.
            if (usage is { } pending && (entry.Data is not UsageRecorded || pending.Stream != entry.StreamKey)) FlushUsage();
            if (entry.RecordedAt >= from && opening is null) opening = wallet?.Balance ?? Money.Zero(CurrencyOf(entry.Data));
            wallet = entry.Data is CustomerRegistered r ? Wallet.Open(r) with { Version = 1 } : wallet?.Apply(entry.Data);
            if (entry.RecordedAt < from || wallet is null) continue;

            if (entry.Data is UsageRecorded u)
            {
                usage = usage is { } current
                    ? current with { Amount = current.Amount + u.Amount.Amount, OccurredAt = u.OccurredAt > current.OccurredAt ? u.OccurredAt : current.OccurredAt }
                    : (entry.StreamKey, new List<string>(), u.Amount.Amount, u.OccurredAt, entry.RecordedAt, entry.Actor);
                usage.Value.Ids.Add(u.EventId);
                continue;
            }

            if (Movement(entry.Data) is { } movement)
            {
                entries.Add(new StatementEntry(movement.Type, movement.Id, movement.Amount.ToLedgerString(), wallet.Balance.ToLedgerString(),
                    Timestamps.Format(movement.At), Timestamps.Format(entry.RecordedAt), entry.Actor, null));
            }
        }

        FlushUsage();
        var currency = wallet?.Currency ?? "";
        opening ??= wallet?.Balance ?? Money.Zero(currency);
        return new StatementResponse(customerId, currency, Timestamps.Format(from), Timestamps.Format(to), opening.Value.ToLedgerString(), entries,
            (wallet?.Balance ?? Money.Zero(currency)).ToLedgerString());
    }

    private static string CurrencyOf(object e) => e is CustomerRegistered r ? r.Currency : "";

    /// <summary>A money movement of the customer's stream: credits positive, debits negative.</summary>
    private static (string Type, string Id, Money Amount, DateTimeOffset At)? Movement(object e) => e switch
    {
        WalletToppedUp t => ("top_up", t.TopUpId, t.Amount, t.ToppedUpAt),
        WalletDebited d => ("debit", d.DebitId, -d.Amount, d.DebitedAt),
        WalletAdjusted a => ("adjustment", a.AdjustmentId, a.Amount, a.AdjustedAt),
        PeriodSettled p => ("settlement", p.InvoiceId, -p.Amount, p.SettledAt),
        _ => null,
    };

    /// <summary>The statement as CSV (RFC 4180): an opening row, one row per entry, a closing row.</summary>
    public static async Task WriteCsvAsync(StatementResponse statement, Stream output, CancellationToken cancellation)
    {
        await using var text = new StreamWriter(output, leaveOpen: true);
        await using var csv = CsvWriter.Create(text, new CsvWriterOptions { NewLine = "\r\n" });
        foreach (var header in new[] { "type", "id", "amount", "balanceAfter", "occurredAt", "recordedAt", "actor", "usageIds" }) csv.WriteField(header);
        csv.EndRecord();
        Row(csv, "opening_balance", "", "", statement.OpeningBalance, statement.From, "", "", "");
        foreach (var e in statement.Entries)
        {
            Row(csv, e.Type, e.Id, e.Amount, e.BalanceAfter, e.OccurredAt, e.RecordedAt, e.Actor ?? "", string.Join(' ', e.UsageIds ?? []));
        }

        Row(csv, "closing_balance", "", "", statement.ClosingBalance, statement.To, "", "", "");
        await csv.FlushAsync(cancellation);
    }

    private static void Row(CsvWriter csv, params string[] fields)
    {
        foreach (var field in fields) csv.WriteField(field);
        csv.EndRecord();
    }
}

public static class GetStatementEndpoint
{
    public const string Csv = "text/csv";

    /// <summary>
    /// The wallet's statement between <c>from</c> (default: the beginning) and <c>to</c> (default:
    /// now), by when the ledger recorded each movement: JSON, or CSV with <c>Accept: text/csv</c>.
    /// </summary>
    [WolverineGet("/v1/wallets/{customerId}/statement", OperationId = "GetWalletStatement")]
    [ProducesResponseType<StatementResponse>(200)]
    [ProducesResponseType(typeof(string), 200, Csv)]
    [ProducesProblem(400)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(404)]
    [Authorize(Policy = Scopes.FinanceRead)]
    [Tags("Wallets")]
    public static async Task<IResult> Get(string customerId, string? from, string? to, HttpContext http, IQuerySession session,
        NpgsqlDataSource dataSource, TimeProvider clock, CancellationToken cancellation)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");
        var errors = new FieldErrors();
        var start = DateTimeOffset.MinValue;
        var end = clock.GetUtcNow();
        if (from is not null && !Timestamps.TryParse(from, out start)) errors.Add("from", "Must be an RFC 3339 timestamp with offset.");
        if (to is not null && !Timestamps.TryParse(to, out end)) errors.Add("to", "Must be an RFC 3339 timestamp with offset.");
        if (!errors.Any && end < start) errors.Add("to", "Must not be before from.");
        if (errors.Any) return errors.ToProblem();

        var history = await WalletHistory.LoadAsync(session, dataSource, customerId, end, cancellation);
        if (!history.Any(e => e.Data is CustomerRegistered)) return Problems.NotFound($"No wallet '{customerId}'.");
        var statement = Statements.Build(customerId, history, from is null ? history[0].RecordedAt : start, end);

        if (!http.Request.Headers.Accept.Any(a => a is not null && a.Contains(Csv, StringComparison.OrdinalIgnoreCase))) return Results.Ok(statement);
        return Results.Stream(async output => await Statements.WriteCsvAsync(statement, output, cancellation), Csv + "; charset=utf-8",
            $"statement-{customerId}.csv");
    }
}
