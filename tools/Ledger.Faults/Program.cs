using System.Diagnostics;
using Ledger.Faults;

// The fault harness (scripts/faults.sh starts PostgreSQL and the development broker, then this):
// real processes, real signals. `--long` runs every fault at a larger scale and several rounds.
// Prints the table docs/reliability.md records; exits 1 when any fault lost, doubled or broke something.
var settings = HarnessSettings.FromEnvironment(args);
var port = Service.FreePort();
using var service = new Service(settings, port);
var postgres = new Postgres(settings);
await service.StartAsync();
var token = await TokenAsync(settings);
var scenarios = new Scenarios(settings, service, postgres, () => new Api(service.Url, token), () => new Api(service.Url, token, TimeSpan.FromMinutes(5)),
    url => new Api(url, token));
await scenarios.SetUpAsync();

var rounds = settings.Long ? 3 : 1;
// --only <words>: run only the faults whose name contains them (when chasing one).
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
var outcomes = new List<Outcome>();
var clock = Stopwatch.StartNew();
for (var round = 1; round <= rounds; round++)
{
    foreach (var (name, fault) in new (string, Func<Task<Outcome>>)[]
             {
                 ("SIGKILL during HTTP ingestion", scenarios.KillDuringHttpIngestionAsync),
                 ("SIGKILL during Kafka consumption", scenarios.KillDuringKafkaConsumptionAsync),
                 ("broker frozen", scenarios.BrokerFrozenAsync),
                 ("PostgreSQL restarted", () => scenarios.PostgresDownAsync(TimeSpan.Zero)),
                 ("PostgreSQL stopped 8 s", () => scenarios.PostgresDownAsync(TimeSpan.FromSeconds(8))),
                 ("slow and idle clients", scenarios.SlowAndIdleClientsAsync),
                 ("async daemon node SIGKILLed", scenarios.DaemonFailoverAsync),
                 ("outbox node SIGKILLed", scenarios.RelayFailoverAsync),
             })
    {
        if (only is not null && !name.Contains(only, StringComparison.OrdinalIgnoreCase)) continue;
        Outcome outcome;
        try
        {
            outcome = await fault();
        }
        catch (Exception e)
        {
            outcome = new Outcome(name + " (the harness failed)", "", "", "", 0, 0, "", false, $"{e.GetType().Name}: {e.Message}\n{service.LogTail}");
        }

        outcome = outcome with { Round = round };
        outcomes.Add(outcome);
        Console.WriteLine($"round {round}: {(outcome.Passed ? "ok  " : "FAIL")} {outcome.Fault} ({clock.Elapsed.TotalSeconds:0} s){(outcome.Why is null ? "" : " — " + outcome.Why)}");
        if (!outcome.Passed)
        {
            Console.WriteLine($"  during: {outcome.DuringTheFault}\n  after: {outcome.After}\n  verify: {outcome.Verify}\n  service log:\n{service.LogTail}");
        }
    }
}

Console.WriteLine();
Console.WriteLine($"Fault harness, {(settings.Long ? "long" : "short")} mode, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {rounds} round(s), {clock.Elapsed.TotalSeconds:0} s");
Console.WriteLine();
Console.WriteLine("| round | fault | load | during the fault | after | lost | doubled | verify | result |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
for (var i = 0; i < outcomes.Count; i++)
{
    var o = outcomes[i];
    Console.WriteLine($"| {o.Round} | {o.Fault} | {o.Load} | {o.DuringTheFault} | {o.After} | {o.Lost} | {o.Doubled} | {o.Verify} | {(o.Passed ? "pass" : "FAIL")} |");
}

return outcomes.All(o => o.Passed) ? 0 : 1;

static async Task<string> TokenAsync(HarnessSettings settings)
{
    var start = new ProcessStartInfo("dotnet", [settings.ServiceDll, "token", "--scope", "admin", "--sub", "faults"])
    {
        RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(settings.ServiceDll)!,
    };
    start.Environment["Ledger__Auth__SigningKey"] = Service.SigningKey;
    using var process = Process.Start(start)!;
    var output = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    return output.Trim().Split('\n').Last().Trim();
}
