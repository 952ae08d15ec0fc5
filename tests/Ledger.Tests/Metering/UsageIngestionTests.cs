using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Metering;

/// <summary>POST /v1/usage over real HTTP: answers, dedup, CloudEvents, validation, limits, auth.</summary>
[Collection(LedgerCollection.Name)]
public class UsageIngestionTests(LedgerApp app)
{
    private const string At = "2026-11-10T10:00:00Z";

    private readonly HttpClient _admin = app.Client();
    private readonly HttpClient _meter = app.Client("usage:write", subject: "metering-client");

    private async Task<string> CustomerWithAsync(string topUp = "100.00", string creditLimit = "0.00")
    {
        var customer = await _admin.NewCustomerAsync(creditLimit: creditLimit);
        if (topUp != "0") await _admin.TopUpAsync(customer, topUp);
        return customer;
    }

    private static IEnumerable<string> WhatsApp(string customer, IEnumerable<int> ids, string prefix = "evt") =>
        ids.Select(i => Event($"{prefix}-{i}", customer, "otp.whatsapp", "1", At));

    // ---- answers and dedup ------------------------------------------------------------------

    [Fact]
    public async Task A_batch_is_accepted_and_charged_and_answers_accepted_and_duplicates()
    {
        var customer = await CustomerWithAsync();

        var (status, body, _) = await _meter.PostUsageAsync(Batch(
            Event("e-1", customer, "otp.whatsapp", "1", At, "IN"),
            Event("e-2", customer, "otp.sms", "10", At, "IN")));

        status.ShouldBe(HttpStatusCode.OK, body?.ToJsonString());
        body!["accepted"]!.GetValue<int>().ShouldBe(2);
        body["duplicates"]!.GetValue<int>().ShouldBe(0);
        // 100.00 − 1 × 0.115 − 10 × 0.20 = 97.885
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("97.885000");
        wallet.Version().ShouldBe(4);
        (await app.UsageEventCountAsync(customer)).ShouldBe(2);
    }

    [Fact]
    public async Task An_empty_batch_records_nothing_and_a_missing_events_array_is_a_400()
    {
        var (empty, body, _) = await _meter.PostUsageAsync("""{ "events": [] }""");
        var (missing, problem, _) = await _meter.PostUsageAsync("""{ }""");

        empty.ShouldBe(HttpStatusCode.OK);
        body!["accepted"]!.GetValue<int>().ShouldBe(0);
        body["duplicates"]!.GetValue<int>().ShouldBe(0);
        missing.ShouldBe(HttpStatusCode.BadRequest);
        problem!["errors"]!["events"].ShouldNotBeNull(problem.ToJsonString());
    }

    [Fact]
    public async Task Duplicates_within_one_batch_are_recorded_and_charged_once_the_first_copy_winning()
    {
        var customer = await CustomerWithAsync();

        var answer = await _meter.RecordUsageAsync(Batch(
            Event("dup-1", customer, "otp.whatsapp", "1", At),
            Event("dup-1", customer, "otp.whatsapp", "1", At),
            Event("dup-2", customer, "otp.whatsapp", "1", At),
            Event("dup-1", customer, "otp.whatsapp", "5", At)));

        answer.ShouldBe((2, 2));
        // 100.00 − 2 × 0.115
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("99.770000");
        wallet.Version().ShouldBe(4);
        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToList();
        stored.Select(u => u.EventId).OrderBy(x => x).ShouldBe(["dup-1", "dup-2"]);
        stored.Single(u => u.EventId == "dup-1").Quantity.ShouldBe(1m);
    }

    [Fact]
    public async Task Duplicates_across_batches_are_not_stored_or_charged_again()
    {
        var customer = await CustomerWithAsync();

        var first = await _meter.RecordUsageAsync(Batch(WhatsApp(customer, [1, 2, 3])));
        var second = await _meter.RecordUsageAsync(Batch(WhatsApp(customer, [3, 4, 2])));
        var replay = await _meter.RecordUsageAsync(Batch(WhatsApp(customer, [1, 2, 3])));

        first.ShouldBe((3, 0));
        second.ShouldBe((1, 2));
        replay.ShouldBe((0, 3));
        // 4 distinct events × 0.115 = 0.46
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("99.540000");
        wallet.Version().ShouldBe(2 + 4);
        (await app.UsageEventCountAsync(customer)).ShouldBe(4);
    }

    [Fact]
    public async Task Event_ids_are_deduplicated_per_customer_so_two_customers_may_use_the_same_id()
    {
        var a = await CustomerWithAsync();
        var b = await CustomerWithAsync();

        var answer = await _meter.RecordUsageAsync(Batch(
            Event("shared-id", a, "otp.whatsapp", "1", At),
            Event("shared-id", b, "otp.whatsapp", "1", At)));

        answer.ShouldBe((2, 0));
        (await _admin.WalletAsync(a)).Str("balance").ShouldBe("99.885000");
        (await _admin.WalletAsync(b)).Str("balance").ShouldBe("99.885000");
    }

    [Fact]
    public async Task The_same_batch_sent_by_eight_concurrent_clients_is_recorded_once()
    {
        var customer = await CustomerWithAsync();
        var batch = Batch(WhatsApp(customer, Enumerable.Range(0, 40)));

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            app.Client("usage:write", subject: $"client-{i}").RecordUsageAsync(batch)));

        answers.Sum(a => a.Accepted).ShouldBe(40);
        answers.Sum(a => a.Duplicates).ShouldBe(7 * 40);
        answers.ShouldAllBe(a => a.Accepted + a.Duplicates == 40);
        // 100.00 − 40 × 0.115 = 95.40
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("95.400000");
        wallet.Version().ShouldBe(2 + 40);
        var ids = (await app.UsageEventsAsync(customer)).Select(e => ((UsageRecorded)e.Data).EventId).ToList();
        ids.Count.ShouldBe(40);
        ids.Distinct().Count().ShouldBe(40);
    }

    [Fact]
    public async Task Overlapping_batches_from_concurrent_clients_record_each_event_id_once()
    {
        var customer = await CustomerWithAsync();

        // Client k sends ids 10k … 10k+29: the six batches cover ids 0 … 79, most of them two or three times.
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(k =>
            app.Client("usage:write", subject: $"client-{k}").RecordUsageAsync(Batch(WhatsApp(customer, Enumerable.Range(10 * k, 30))))));

        answers.Sum(a => a.Accepted).ShouldBe(80);
        answers.Sum(a => a.Duplicates).ShouldBe(6 * 30 - 80);
        // 100.00 − 80 × 0.115 = 90.80
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("90.800000");
        wallet.Version().ShouldBe(2 + 80);
        (await app.UsageEventCountAsync(customer)).ShouldBe(80);
    }

    [Fact]
    public async Task Concurrent_graduated_usage_is_rated_against_one_running_total()
    {
        var customer = await CustomerWithAsync(topUp: "3000.00");

        // 8 batches of 3 × 500 SMS, each sent twice at once: 12,000 distinct units in the period.
        var batches = Enumerable.Range(0, 8).Select(b => Batch(Enumerable.Range(0, 3).Select(i =>
            Event($"sms-{b}-{i}", customer, "otp.sms", "500", At)))).ToList();
        var answers = await Task.WhenAll(batches.Concat(batches).Select((batch, i) =>
            app.Client("usage:write", subject: $"client-{i}").RecordUsageAsync(batch)));

        answers.Sum(a => a.Accepted).ShouldBe(24);
        answers.Sum(a => a.Duplicates).ShouldBe(24);
        // Whatever the order: 10,000 × 0.20 + 2,000 × 0.15 = 2,300.00; 3,000.00 − 2,300.00 = 700.00
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("700.000000");
        wallet.Version().ShouldBe(2 + 24);
        var charges = (await app.UsageEventsAsync(customer)).Select(e => ((UsageRecorded)e.Data).Amount.Amount).ToList();
        charges.Sum().ShouldBe(2300m);
        charges.Count(c => c == 100m).ShouldBe(20);  // the first 20 × 500 units at 0.20 (10,000 lands exactly on the bound)
        charges.Count(c => c == 75m).ShouldBe(4);    // the last 4 × 500 units at 0.15
    }

    // ---- CloudEvents ------------------------------------------------------------------------

    [Fact]
    public async Task A_CloudEvents_batch_maps_subject_type_time_and_data_and_rolls_up_by_dimension()
    {
        var customer = await CustomerWithAsync();
        var cloudEvents = $$"""
            [
              { "specversion": "1.0", "id": "ce-1", "source": "/otp/sms", "type": "otp.sms", "subject": "{{customer}}",
                "time": "2026-11-10T09:00:00Z", "datacontenttype": "application/json",
                "data": { "quantity": "3", "country": "IN", "channel": "sms" } },
              { "specversion": "1.0", "id": "ce-2", "source": "/otp/whatsapp", "type": "otp.whatsapp", "subject": "{{customer}}",
                "time": "2026-11-10T09:30:00+05:30", "data": { "country": "BR" } },
              { "specversion": "1.0", "id": "ce-3", "source": "/otp/sms", "type": "otp.sms", "subject": "{{customer}}",
                "time": "2026-11-10T10:15:00Z",
                "data": { "quantity": 2, "country": "IN", "attempt": 3, "verified": true, "nested": { "a": "b" } } }
            ]
            """;

        var answer = await _meter.RecordUsageAsync(cloudEvents, CloudEventsBatch);
        // The same id again over plain JSON is a duplicate.
        var again = await _meter.RecordUsageAsync(Batch(Event("ce-1", customer, "otp.sms", "3", "2026-11-10T09:00:00Z")));

        answer.ShouldBe((3, 0));
        again.ShouldBe((0, 1));
        // 3 × 0.20 + 1 × 0.115 (quantity defaults to 1) + 2 × 0.20 = 1.115
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("98.885000");

        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored.Keys.OrderBy(k => k).ShouldBe(["ce-1", "ce-2", "ce-3"]);
        stored["ce-1"].Meter.ShouldBe("otp.sms");
        stored["ce-1"].Quantity.ShouldBe(3m);
        stored["ce-1"].OccurredAt.ShouldBe(DateTimeOffset.Parse("2026-11-10T09:00:00Z"));
        Dims(stored["ce-1"]).ShouldBe("channel=sms,country=IN");
        stored["ce-2"].Quantity.ShouldBe(1m);
        stored["ce-2"].OccurredAt.ShouldBe(DateTimeOffset.Parse("2026-11-10T04:00:00Z"));
        Dims(stored["ce-2"]).ShouldBe("country=BR");
        stored["ce-3"].Quantity.ShouldBe(2m);
        Dims(stored["ce-3"]).ShouldBe("country=IN", "numbers, booleans and objects in data are not dimensions");

        var url = $"/v1/customers/{customer}/usage?from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z&granularity=day&groupBy=country";
        var byCountry = await app.UsageWhenCaughtUpAsync(_admin, url, b => b["buckets"]!.AsArray().Count == 2);
        var buckets = byCountry["buckets"]!.AsArray().Select(b => b!).Select(b => (
            b.Str("start"), b.Str("meter"), b["dimensions"]!.Str("country"), decimal.Parse(b.Str("quantity"), System.Globalization.CultureInfo.InvariantCulture), b.Str("amount")))
            .OrderBy(b => b.Item2).ToList();
        buckets.ShouldBe([
            ("2026-11-10T00:00:00Z", "otp.sms", "IN", 5m, "1.000000"),
            ("2026-11-10T00:00:00Z", "otp.whatsapp", "BR", 1m, "0.115000"),
        ]);

        var (_, byChannel) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=day&groupBy=channel");
        byChannel!["buckets"]!.AsArray().Count.ShouldBe(1);
        byChannel["buckets"]![0]!.Str("quantity").ShouldBe("3");
        var (_, byAttempt) = await _admin.GetJson($"/v1/customers/{customer}/usage?granularity=day&groupBy=attempt");
        byAttempt!["buckets"]!.AsArray().ShouldBeEmpty("only string values of data are dimensions");
    }

    [Fact]
    public async Task An_invalid_CloudEvent_refuses_the_batch_with_errors_keyed_by_the_mapped_field()
    {
        var customer = await CustomerWithAsync();
        var cloudEvents = $$"""
            [
              { "specversion": "1.0", "id": "ce-ok", "source": "/x", "type": "otp.sms", "subject": "{{customer}}", "time": "{{At}}" },
              { "specversion": "1.0", "id": "ce-bad", "source": "/x", "type": "otp.sms", "time": "{{At}}", "data": { "quantity": 1.5 } }
            ]
            """;

        var (status, problem, mediaType) = await _meter.PostUsageAsync(cloudEvents, CloudEventsBatch);

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        mediaType.ShouldBe("application/problem+json");
        var errors = problem!["errors"]!.AsObject();
        errors["events[1].customerId"].ShouldNotBeNull(problem.ToJsonString());
        errors["events[1].quantity"].ShouldNotBeNull(problem.ToJsonString());
        errors.Select(e => e.Key).ShouldAllBe(k => k.StartsWith("events[1]."));
        await ShouldHaveStoredNoUsageAsync(customer);
    }

    // ---- validation ---------------------------------------------------------------------------

    public static TheoryData<string, string> InvalidEvents => new()
    {
        // the second event of the batch (CUST = the customer, FUTURE = now + 10 min), the field its error names
        { """{ "id": "e-2", "customerId": "nobody-at-all", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "customerId" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.pigeon", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "meter" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "-1", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "0.0000001", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": 1.5, "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": true, "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "one", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1e3", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "id" },
        { """{ "id": "e 2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "id" },
        { """{ "id": "e-2", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "customerId" },
        { """{ "id": "e-2", "customerId": "CUST", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "meter" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "occurredAt": "2026-11-10T10:00:00Z" }""", "quantity" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1" }""", "occurredAt" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "FUTURE" }""", "occurredAt" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00" }""", "occurredAt" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10" }""", "occurredAt" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "yesterday" }""", "occurredAt" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z", "dimensions": { "country": 5 } }""", "dimensions.country" },
        { """{ "id": 2, "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "id" },
        { """{ "id": "ID65", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "id" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z" }""", "meter" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z", "dimensions": "IN" }""", "dimensions" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "2026-11-10T10:00:00Z", "dimensions": { "late": "yes" } }""", "dimensions.late" },
        { """{ "id": "e-2", "customerId": "CUST", "meter": "otp.sms", "quantity": "1", "occurredAt": "1999-12-31T23:59:59Z" }""", "occurredAt" },
        { """null""", "" },
    };

    [Theory]
    [MemberData(nameof(InvalidEvents))]
    public async Task An_invalid_event_refuses_the_whole_batch_with_an_error_keyed_events_i_field_and_nothing_is_stored(string invalid, string field)
    {
        var customer = await CustomerWithAsync();
        var valid = Event("e-1", customer, "otp.sms", "1", At);
        var future = DateTimeOffset.UtcNow.AddMinutes(10).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");
        var body = Batch(valid, invalid.Replace("CUST", customer).Replace("FUTURE", future).Replace("ID65", new string('i', 65)));

        var (status, problem, mediaType) = await _meter.PostUsageAsync(body);

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        mediaType.ShouldBe("application/problem+json");
        problem.Str("type").ShouldEndWith("validation");
        var key = field.Length == 0 ? "events[1]" : $"events[1].{field}";
        var errors = problem!["errors"]!.AsObject();
        errors[key].ShouldNotBeNull(problem.ToJsonString());
        errors.Select(e => e.Key).ShouldAllBe(k => k.StartsWith("events[1]"), "the valid first event has no error");
        problem.ToJsonString().ShouldNotContain("   at ");
        await ShouldHaveStoredNoUsageAsync(customer);

        // Nothing was claimed either: the valid event alone is accepted afterwards, as new.
        (await _meter.RecordUsageAsync(Batch(valid))).ShouldBe((1, 0));
    }

    [Fact]
    public async Task Every_invalid_event_of_a_batch_is_reported()
    {
        var customer = await CustomerWithAsync();

        var (status, problem, _) = await _meter.PostUsageAsync(Batch(
            Event("e-0", customer, "otp.sms", "-1", At),
            Event("e-1", customer, "otp.sms", "1", At),
            $$"""{ "id": "e-2", "customerId": "{{customer}}", "meter": "otp.sms", "quantity": "1" }""",
            Event("e-3", customer, "otp.sms", "1.1234567", At)));

        status.ShouldBe(HttpStatusCode.BadRequest);
        var keys = problem!["errors"]!.AsObject().Select(e => e.Key).OrderBy(k => k).ToList();
        keys.ShouldBe(["events[0].quantity", "events[2].occurredAt", "events[3].quantity"]);
        await ShouldHaveStoredNoUsageAsync(customer);
    }

    [Fact]
    public async Task Integer_JSON_numbers_back_dated_usage_and_usage_up_to_five_minutes_ahead_are_accepted()
    {
        var customer = await CustomerWithAsync();
        var soon = DateTimeOffset.UtcNow.AddMinutes(4).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'");

        var answer = await _meter.RecordUsageAsync(Batch(
            $$"""{ "id": "n-1", "customerId": "{{customer}}", "meter": "otp.whatsapp", "quantity": 2, "occurredAt": "{{At}}" }""",
            Event("n-2", customer, "otp.whatsapp", "1", "2020-02-29T23:59:59+05:30"),
            Event("n-3", customer, "otp.whatsapp", "1", soon),
            Event("n-4", customer, "otp.whatsapp", "0.000001", At)));

        answer.ShouldBe((4, 0));
        // (2 + 1 + 1) × 0.115 = 0.46; the millionth unit after 3 units costs round6(3.000001 × 0.115) − 0.345 = 0
        (await _admin.WalletAsync(customer)).Str("balance").ShouldBe("99.540000");
        var stored = (await app.UsageEventsAsync(customer)).Select(e => (UsageRecorded)e.Data).ToDictionary(u => u.EventId);
        stored["n-1"].Quantity.ShouldBe(2m);
        stored["n-2"].Period.ShouldBe("2020-02");
        stored["n-4"].Quantity.ShouldBe(0.000001m);
    }

    [Fact]
    public async Task A_quantity_too_large_for_the_ledger_is_a_400_not_a_server_error()
    {
        var customer = await CustomerWithAsync();

        // 23 digits: a valid decimal string, but beyond what any running total or balance can hold (numeric(28,6)).
        var (status, problem, _) = await _meter.PostUsageAsync(Batch(
            Event("big-1", customer, "otp.sms", "99999999999999999999999", At)));

        status.ShouldBe(HttpStatusCode.BadRequest, problem?.ToJsonString());
        problem!["errors"]!["events[0].quantity"].ShouldNotBeNull(problem.ToJsonString());
        await ShouldHaveStoredNoUsageAsync(customer);
    }

    // ---- limits -------------------------------------------------------------------------------

    [Fact]
    public async Task Five_thousand_events_are_accepted_and_five_thousand_and_one_are_a_413()
    {
        var customer = await CustomerWithAsync(topUp: "1000.00");

        var (tooMany, problem, _) = await _meter.PostUsageAsync(Batch(WhatsApp(customer, Enumerable.Range(0, 5001), "big")));
        tooMany.ShouldBe(HttpStatusCode.RequestEntityTooLarge, problem?.ToJsonString());
        problem.Str("type").ShouldEndWith("payload-too-large");
        await ShouldHaveStoredNoUsageAsync(customer, "1000.000000");

        var answer = await _meter.RecordUsageAsync(Batch(WhatsApp(customer, Enumerable.Range(0, 5000), "big")));
        answer.ShouldBe((5000, 0));
        // 1000.00 − 5000 × 0.115 = 425.00
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("425.000000");
        wallet.Version().ShouldBe(2 + 5000);
    }

    [Fact]
    public async Task A_body_over_five_megabytes_is_a_413_with_or_without_a_content_length()
    {
        var customer = await CustomerWithAsync();
        var padding = new string(' ', 5 * 1024 * 1024);
        var body = $$"""{ "events": [ {{Event("e-1", customer, "otp.sms", "1", At)}} ] {{padding}} }""";
        Encoding.UTF8.GetByteCount(body).ShouldBeGreaterThan(5 * 1024 * 1024);

        var (withLength, problem, _) = await _meter.PostUsageAsync(body);

        using var chunked = new StreamContent(new NonSeekableStream(Encoding.UTF8.GetBytes(body)));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var chunkedResponse = await _meter.PostAsync("/v1/usage", chunked);

        withLength.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        problem.Str("type").ShouldEndWith("payload-too-large");
        chunkedResponse.StatusCode.ShouldBe(HttpStatusCode.RequestEntityTooLarge);
        await ShouldHaveStoredNoUsageAsync(customer);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_415()
    {
        using var response = await _meter.PostAsync("/v1/usage", new StringContent("""{ "events": [] }""", Encoding.UTF8, "text/plain"));

        response.StatusCode.ShouldBe(HttpStatusCode.UnsupportedMediaType);
    }

    // ---- funds and auth -------------------------------------------------------------------------

    [Fact]
    public async Task Usage_is_never_refused_for_lack_of_funds_and_overdraws_the_wallet()
    {
        var customer = await CustomerWithAsync(topUp: "1.00");

        var answer = await _meter.RecordUsageAsync(Batch(
            Event("o-1", customer, "otp.sms", "10", At),
            Event("o-2", customer, "otp.whatsapp", "1", At)));

        answer.ShouldBe((2, 0));
        // 1.00 − 10 × 0.20 − 0.115 = −1.115
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe("-1.115000");
        wallet.Str("available").ShouldBe("-1.115000");
        wallet.Str("status").ShouldBe("overdrawn");
        wallet.Version().ShouldBe(4);
    }

    [Fact]
    public async Task Usage_that_takes_the_balance_to_the_threshold_makes_the_wallet_low()
    {
        var customer = await CustomerWithAsync(topUp: "100.20");   // low-balance threshold 100.00

        (await _meter.RecordUsageAsync(Batch(Event("l-1", customer, "otp.sms", "1", At)))).ShouldBe((1, 0));
        var exactly = await _admin.WalletAsync(customer);
        (await _meter.RecordUsageAsync(Batch(Event("l-2", customer, "otp.whatsapp", "1", At)))).ShouldBe((1, 0));
        var below = await _admin.WalletAsync(customer);

        exactly.Str("balance").ShouldBe("100.000000");   // 100.20 − 0.20
        exactly.Str("status").ShouldBe("low");
        below.Str("balance").ShouldBe("99.885000");
        below.Str("status").ShouldBe("low");
    }

    [Fact]
    public async Task Usage_needs_a_token_with_usage_write()
    {
        var customer = await CustomerWithAsync();
        var batch = Batch(Event("a-1", customer, "otp.sms", "1", At));

        var (anonymous, _, _) = await app.Client(scopes: null).PostUsageAsync(batch);
        var (reader, _, _) = await app.Client("wallets:read").PostUsageAsync(batch);
        var (billing, _, _) = await app.Client("billing:write wallets:write").PostUsageAsync(batch);
        await ShouldHaveStoredNoUsageAsync(customer);
        var (writer, _, _) = await app.Client("wallets:read usage:write").PostUsageAsync(batch);

        anonymous.ShouldBe(HttpStatusCode.Unauthorized);
        reader.ShouldBe(HttpStatusCode.Forbidden);
        billing.ShouldBe(HttpStatusCode.Forbidden);
        writer.ShouldBe(HttpStatusCode.OK);
    }

    private static string Dims(UsageRecorded u) => string.Join(",", u.Dimensions.OrderBy(d => d.Key, StringComparer.Ordinal).Select(d => $"{d.Key}={d.Value}"));

    /// <summary>The wallet holds only the top-up, and no usage event of the customer exists.</summary>
    private async Task ShouldHaveStoredNoUsageAsync(string customer, string balance = "100.000000")
    {
        var wallet = await _admin.WalletAsync(customer);
        wallet.Str("balance").ShouldBe(balance);
        wallet.Version().ShouldBe(2);
        (await app.UsageEventCountAsync(customer)).ShouldBe(0);
    }

    private sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
