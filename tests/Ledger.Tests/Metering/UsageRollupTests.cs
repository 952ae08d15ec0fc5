using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Metering;

/// <summary>
/// GET /v1/customers/{id}/usage equals a fold of the usage events sent: hour, day and month
/// buckets (UTC), the meter filter, groupBy a dimension, and from (inclusive) / to (exclusive).
/// </summary>
[Collection(LedgerCollection.Name)]
public class UsageRollupTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();
    private readonly HttpClient _meter = app.Client("usage:write", subject: "metering-client");

    private sealed record Sent(string Id, string Meter, decimal Quantity, DateTimeOffset OccurredAt, string Country, decimal Charge);

    private sealed record Bucket(DateTimeOffset Start, string Meter, string Dimensions, decimal Quantity, string Amount);

    // Starter plan; every sms stays below the 10,000 bound (0.20 each), whatsapp is flat 0.115.
    private static readonly Sent[] Events =
    [
        new("r-1", "otp.sms", 10m, At("2026-08-31T23:10:00Z"), "IN", 2.00m),
        new("r-2", "otp.sms", 5m, At("2026-08-31T23:50:00Z"), "US", 1.00m),
        new("r-3", "otp.sms", 7m, At("2026-09-01T00:05:00Z"), "IN", 1.40m),
        new("r-4", "otp.whatsapp", 2m, At("2026-09-01T00:55:00Z"), "IN", 0.23m),
        new("r-5", "otp.whatsapp", 3m, At("2026-09-01T13:20:00Z"), "BR", 0.345m),
        new("r-6", "otp.sms", 1.5m, At("2026-09-01T13:40:00Z"), "IN", 0.30m),
        new("r-7", "otp.whatsapp", 4m, At("2026-09-14T09:00:00Z"), "US", 0.46m),
        // a millionth of a unit adds 0.000000115 to the period price, which rounds away wherever it lands in the period
        new("r-8", "otp.whatsapp", 0.000001m, At("2026-09-14T09:59:59Z"), "BR", 0m),
        new("r-9", "otp.sms", 2m, At("2026-10-01T00:00:00Z"), "US", 0.40m),
    ];

    private static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture);

    private static string Json(Sent e, string customer) =>
        Event(e.Id, customer, e.Meter, e.Quantity.ToString(CultureInfo.InvariantCulture), e.OccurredAt.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture), e.Country);

    private static DateTimeOffset Truncate(DateTimeOffset t, string granularity) => granularity switch
    {
        "hour" => new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero),
        "day" => new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero),
        _ => new DateTimeOffset(t.Year, t.Month, 1, 0, 0, 0, TimeSpan.Zero),
    };

    /// <summary>The buckets a fold of the sent events gives.</summary>
    private static List<Bucket> Fold(IEnumerable<Sent> events, string granularity, bool byCountry) => events
        .GroupBy(e => (Start: Truncate(e.OccurredAt, granularity), e.Meter, Dims: byCountry ? $"country={e.Country}" : ""))
        .Select(g => new Bucket(g.Key.Start, g.Key.Meter, g.Key.Dims, g.Sum(e => e.Quantity), g.Sum(e => e.Charge).ToString("F6", CultureInfo.InvariantCulture)))
        .OrderBy(b => b.Start).ThenBy(b => b.Meter, StringComparer.Ordinal).ThenBy(b => b.Dimensions, StringComparer.Ordinal)
        .ToList();

    private static List<Bucket> Parse(JsonNode answer) => answer["buckets"]!.AsArray().Select(b => b!).Select(b => new Bucket(
            DateTimeOffset.Parse(b.Str("start"), CultureInfo.InvariantCulture),
            b.Str("meter"),
            string.Join(",", b["dimensions"]!.AsObject().Select(d => $"{d.Key}={d.Value!.GetValue<string>()}")),
            decimal.Parse(b.Str("quantity"), CultureInfo.InvariantCulture),
            b.Str("amount")))
        .OrderBy(b => b.Start).ThenBy(b => b.Meter, StringComparer.Ordinal).ThenBy(b => b.Dimensions, StringComparer.Ordinal)
        .ToList();

    private async Task<string> CustomerWithUsageAsync()
    {
        var customer = await _admin.NewCustomerAsync();
        await _admin.TopUpAsync(customer, "100.00");
        // Two batches, not in chronological order.
        (await _meter.RecordUsageAsync(Batch(Events.Where((_, i) => i % 2 == 1).Reverse().Select(e => Json(e, customer))))).Accepted.ShouldBe(4);
        (await _meter.RecordUsageAsync(Batch(Events.Where((_, i) => i % 2 == 0).Select(e => Json(e, customer))))).Accepted.ShouldBe(5);
        return customer;
    }

    [Fact]
    public async Task The_stored_charges_are_the_hand_computed_ones()
    {
        var customer = await CustomerWithUsageAsync();

        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);

        stored.Count.ShouldBe(Events.Length);
        foreach (var e in Events)
        {
            stored[e.Id].Amount.Amount.ShouldBe(e.Charge, e.Id);
            stored[e.Id].Quantity.ShouldBe(e.Quantity, e.Id);
            stored[e.Id].OccurredAt.ShouldBe(e.OccurredAt, e.Id);
        }

        // 100 − 6.135
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("93.865000");
    }

    public static TheoryData<string, bool> Shapes => new()
    {
        { "hour", false },
        { "day", false },
        { "month", false },
        { "hour", true },
        { "day", true },
        { "month", true },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task Buckets_equal_a_fold_of_the_usage_events(string granularity, bool byCountry)
    {
        var customer = await CustomerWithUsageAsync();
        var expected = Fold(Events, granularity, byCountry);

        var url = $"/v1/customers/{customer}/usage?granularity={granularity}" + (byCountry ? "&groupBy=country" : "");
        var answer = await app.UsageWhenCaughtUpAsync(_admin, url, a => Parse(a).SequenceEqual(expected));

        answer.Str("customerId").ShouldBe(customer);
        answer.Str("granularity").ShouldBe(granularity);
        Parse(answer).ShouldBe(expected);
        answer["buckets"]!.AsArray().ShouldAllBe(b => b!["start"]!.GetValue<string>().EndsWith('Z'));
    }

    [Fact]
    public async Task Day_buckets_are_the_expected_literals()
    {
        var customer = await CustomerWithUsageAsync();

        var answer = await app.UsageWhenCaughtUpAsync(_admin, $"/v1/customers/{customer}/usage?granularity=day&meter=otp.sms",
            a => a["buckets"]!.AsArray().Count == 3);

        Parse(answer).ShouldBe([
            new Bucket(At("2026-08-31T00:00:00Z"), "otp.sms", "", 15m, "3.000000"),
            new Bucket(At("2026-09-01T00:00:00Z"), "otp.sms", "", 8.5m, "1.700000"),
            new Bucket(At("2026-10-01T00:00:00Z"), "otp.sms", "", 2m, "0.400000"),
        ]);
    }

    [Fact]
    public async Task The_meter_filter_and_the_from_to_window_select_buckets()
    {
        var customer = await CustomerWithUsageAsync();
        await app.UsageWhenCaughtUpAsync(_admin, $"/v1/customers/{customer}/usage?granularity=month",
            a => Parse(a).SequenceEqual(Fold(Events, "month", false)));

        var (_, whatsapp) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=month&meter=otp.whatsapp");
        var (_, september) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=day&from=2026-09-01T00:00:00Z&to=2026-10-01T00:00:00Z&groupBy=country");
        var (_, oneHour) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=hour&from=2026-08-31T23:00:00Z&to=2026-09-01T00:00:00Z");
        var (_, none) = await _admin.GetJson($"/v1/customers/{customer}/usage?meter=otp.email");

        Parse(whatsapp!).ShouldBe(Fold(Events.Where(e => e.Meter == "otp.whatsapp"), "month", false));
        Parse(whatsapp!).Single().Quantity.ShouldBe(9.000001m);
        Parse(september!).ShouldBe(Fold(Events.Where(e => e.OccurredAt.Month == 9 && e.OccurredAt.Year == 2026), "day", true));
        Parse(oneHour!).ShouldBe([new Bucket(At("2026-08-31T23:00:00Z"), "otp.sms", "", 15m, "3.000000")]);
        none!["buckets"]!.AsArray().ShouldBeEmpty();
    }

    [Fact]
    public async Task Usage_of_an_unknown_customer_is_404_and_bad_parameters_are_400()
    {
        var customer = await _admin.NewCustomerAsync();

        var (unknown, _) = await _admin.GetJson("/v1/customers/nobody-here/usage");
        var (granularity, g) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=week");
        var (from, f) = await _admin.GetJson($"/v1/customers/{customer}/usage?from=2026-11-01");
        var (forbidden, _) = await app.Client("usage:write").GetJson($"/v1/customers/{customer}/usage");

        unknown.ShouldBe(HttpStatusCode.NotFound);
        granularity.ShouldBe(HttpStatusCode.BadRequest);
        g!["errors"]!["granularity"].ShouldNotBeNull();
        from.ShouldBe(HttpStatusCode.BadRequest);
        f!["errors"]!["from"].ShouldNotBeNull();
        forbidden.ShouldBe(HttpStatusCode.Forbidden);
    }
}
