using Ledger.Metering;
using Ledger.Tests.Infrastructure;
using static Ledger.Tests.Metering.UsageApi;

namespace Ledger.Tests.Metering;

/// <summary>Usage events carry who sent them (the token's sub), correlation and causation ids, and what was rated.</summary>
[Collection(LedgerCollection.Name)]
public class UsageMetadataTests(LedgerApp app)
{
    private readonly HttpClient _admin = app.Client();

    [Fact]
    public async Task Usage_events_carry_the_tokens_sub_as_actor_and_one_stream_per_batch()
    {
        var customer = await _admin.NewCustomerAsync();
        var subject = LedgerApp.NewId("svc-otp");
        var meter = app.Client("usage:write", subject: subject);
        var before = DateTimeOffset.UtcNow;

        (await meter.RecordUsageAsync(Batch(
            Event("m-1", customer, "otp.sms", "2", "2026-11-10T10:00:00Z", "IN"),
            Event("m-2", customer, "otp.whatsapp", "1", "2026-11-10T10:00:00Z")))).ShouldBe((2, 0));
        (await meter.RecordUsageAsync(Batch(Event("m-3", customer, "otp.sms", "1", "2026-10-31T18:30:00Z")))).ShouldBe((1, 0));
        (await app.Client("admin", subject: "someone-else").RecordUsageAsync(Batch(Event("m-4", customer, "otp.sms", "1", "2026-11-10T10:00:00Z")))).ShouldBe((1, 0));

        var events = await app.UsageEventsAsync(customer);
        events.Count.ShouldBe(4);
        var byId = events.ToDictionary(e => ((UsageRecorded)e.Data).EventId);

        foreach (var id in new[] { "m-1", "m-2", "m-3" })
        {
            byId[id].UserName.ShouldBe(subject, id);
        }

        byId["m-4"].UserName.ShouldBe("someone-else");
        events.ShouldAllBe(e => e.StreamKey!.StartsWith("usage/"));
        events.ShouldAllBe(e => !string.IsNullOrEmpty(e.CorrelationId));
        events.ShouldAllBe(e => !string.IsNullOrEmpty(e.CausationId));
        byId["m-1"].StreamKey.ShouldBe(byId["m-2"].StreamKey, "one stream per accepted batch");
        byId["m-3"].StreamKey.ShouldNotBe(byId["m-1"].StreamKey);
        byId["m-4"].StreamKey.ShouldNotBe(byId["m-3"].StreamKey);

        var m1 = (UsageRecorded)byId["m-1"].Data;
        m1.CustomerId.ShouldBe(customer);
        m1.Meter.ShouldBe("otp.sms");
        m1.Quantity.ShouldBe(2m);
        m1.OccurredAt.ShouldBe(DateTimeOffset.Parse("2026-11-10T10:00:00Z"));
        m1.Dimensions.ShouldContainKeyAndValue("country", "IN");
        m1.Amount.Amount.ShouldBe(0.40m);
        m1.Amount.Currency.ShouldBe("INR");
        m1.Period.ShouldBe("2026-11");
        m1.PlanVersion.ShouldBe(1);
        m1.Late.ShouldBeFalse();
        m1.Source.ShouldBe("http");
        m1.RecordedAt.ShouldBeInRange(before.AddSeconds(-5), DateTimeOffset.UtcNow.AddSeconds(5));
        ((UsageRecorded)byId["m-2"].Data).Dimensions.ShouldBeEmpty();
        // 2026-10-31T18:30Z is 1 November 00:00 in Kolkata, the customer's billing time zone.
        ((UsageRecorded)byId["m-3"].Data).Period.ShouldBe("2026-11");
    }

    [Fact]
    public async Task Concurrent_batches_from_different_clients_each_keep_their_own_actor()
    {
        var customer = await _admin.NewCustomerAsync();
        var subjects = Enumerable.Range(0, 12).Select(i => LedgerApp.NewId($"svc{i}")).ToArray();

        // Sent at once, so the group-commit writer is likely to record several batches in one transaction.
        var answers = await Task.WhenAll(subjects.Select(s => app.Client("usage:write", subject: s).RecordUsageAsync(
            Batch(Enumerable.Range(0, 5).Select(i => Event($"{s}.{i}", customer, "otp.whatsapp", "1", "2026-11-10T10:00:00Z"))))));

        answers.ShouldAllBe(a => a.Accepted == 5 && a.Duplicates == 0);
        var events = await app.UsageEventsAsync(customer);
        events.Count.ShouldBe(60);
        foreach (var e in events)
        {
            var sentBy = ((UsageRecorded)e.Data).EventId.Split('.')[0];
            e.UserName.ShouldBe(sentBy, ((UsageRecorded)e.Data).EventId);
        }

        events.GroupBy(e => e.StreamKey).Count().ShouldBe(12, "one stream per batch");
        events.GroupBy(e => e.StreamKey).ShouldAllBe(g => g.Select(e => e.UserName).Distinct().Count() == 1);
    }
}
