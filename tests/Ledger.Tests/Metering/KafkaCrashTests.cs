using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Confluent.Kafka;
using Ledger.Tests.Infrastructure;
using Npgsql;

namespace Ledger.Tests.Metering;

/// <summary>
/// The service as a real process, killed with SIGKILL while it consumes usage from Kafka, then
/// started again: every record is counted exactly once (what was committed before the kill is not
/// recorded again; what was not is redelivered and recorded).
/// </summary>
[Collection(KafkaCollection.Name)]
public class KafkaCrashTests
{
    private const int Records = 20_000;

    [Fact]
    public async Task Killed_while_consuming_and_started_again_every_event_is_counted_exactly_once()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var schema = "crash_" + suffix;
        var topic = "usage-crash-" + suffix;
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = KafkaLedgerApp.Bootstrap }).Build())
        {
            for (var i = 0; i < 50 && admin.GetMetadata(topic, TimeSpan.FromSeconds(5)).Topics.Single().Partitions.Count == 0; i++) await Task.Delay(100);
        }

        var port = ServiceProcess.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["LEDGER_CONNECTION"] = LedgerApp.ConnectionString,
            ["Ledger__Schema"] = schema,
            ["Ledger__Auth__SigningKey"] = LedgerApp.SigningKey,
            ["Ledger__Roles"] = "api,ingest",
            ["Ledger__Durability"] = "Solo",
            ["Ledger__Kafka__BootstrapServers"] = KafkaLedgerApp.Bootstrap,
            ["Ledger__Kafka__GroupId"] = "crash-" + suffix,
            ["Ledger__Kafka__Topics__Usage"] = topic,
            ["Ledger__Kafka__Topics__UsageDeadLetter"] = topic + "-dlq",
            ["Ledger__Kafka__Topics__Events"] = "events-crash-" + suffix,
            ["Ledger__Kafka__Consumers"] = "2",
            ["Ledger__Kafka__BatchSize"] = "500",
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", LedgerApp.Token("admin"));

        var first = await StartAsync(environment, http);
        try
        {
            (await http.PutJson("/v1/plans/crash", """{ "currency": "INR", "meters": { "otp.whatsapp": { "model": "flat", "unitPrice": "0.115" } } }""")).Status
                .ShouldBe(HttpStatusCode.Created);
            var customers = Enumerable.Range(0, 20).Select(i => $"c{i:D2}").ToArray();
            foreach (var c in customers)
            {
                (await http.PutJson($"/v1/customers/{c}", """{ "name": "C", "planId": "crash", "currency": "INR" }""")).Status.ShouldBe(HttpStatusCode.Created);
            }

            var now = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = KafkaLedgerApp.Bootstrap }).Build())
            {
                for (var i = 0; i < Records; i++)
                {
                    var c = customers[i % customers.Length];
                    producer.Produce(topic, new Message<string, string> { Key = c, Value = UsageApi.Event($"e-{i}", c, "otp.whatsapp", "1", now) });
                    if (i % 1000 == 0) producer.Poll(TimeSpan.Zero);
                }

                producer.Flush(TimeSpan.FromSeconds(30));
            }

            // Kill it mid-stream: some batches committed, others in flight or not yet read.
            await UntilAsync(async () => await RecordedAsync(schema) >= 2_000, TimeSpan.FromSeconds(60));
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
            var atKill = await RecordedAsync(schema);
            atKill.ShouldBeGreaterThan(0);
            atKill.ShouldBeLessThan(Records, "the service finished before it could be killed mid-stream");
        }
        finally
        {
            if (!first.HasExited) first.Kill(entireProcessTree: true);
        }

        var second = await StartAsync(environment, http);
        try
        {
            await UntilAsync(async () => await RecordedAsync(schema) >= Records, TimeSpan.FromSeconds(90));
            await Task.Delay(2000);

            (await RecordedAsync(schema)).ShouldBe(Records);
            (await ScalarAsync($"select count(*) from {schema}.mt_events where type = 'usage_recorded'")).ShouldBe(Records);
            (await ScalarAsync($"select coalesce(sum(balance), 0) from {schema}.wallets")).ShouldBe(-0.115m * Records);
            (await ScalarAsync($"select coalesce(sum(balance), 0) from {schema}.accounts")).ShouldBe(-0.115m * Records);
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    private static async Task<Process> StartAsync(Dictionary<string, string> environment, HttpClient http)
    {
        var process = ServiceProcess.Start(environment);
        await UntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60));
        process.HasExited.ShouldBeFalse("the service exited during start-up");
        return process;
    }

    private static Task<long> RecordedAsync(string schema) =>
        ScalarAsync($"select count(*) from {schema}.usage_event_ids").ContinueWith(t => Convert.ToInt64(t.Result, CultureInfo.InvariantCulture));

    private static async Task<object> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(LedgerApp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = (await command.ExecuteScalarAsync())!;
        return value is long count ? (int)count : value;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!await condition() && DateTime.UtcNow < deadline) await Task.Delay(100);
    }
}
