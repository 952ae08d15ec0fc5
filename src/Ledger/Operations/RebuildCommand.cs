using Marten;

namespace Ledger.Operations;

/// <summary>
/// <c>rebuild &lt;name|all&gt; [--verify]</c> on the command line: the same rebuild (or verification,
/// which replaces nothing and exits 3 when rows differ) as the admin endpoint, run in this process,
/// safe on a running ledger; <c>rebuild --list</c> shows the read models and their position;
/// <c>rebuild &lt;Wallets|UsageRollups&gt; --customer &lt;id&gt;</c> rebuilds one customer's rows.
/// </summary>
public static class RebuildCommand
{
    public static async Task<int> RunAsync(IServiceProvider services, string[] args)
    {
        var readModels = services.GetRequiredService<ReadModels>();
        var rebuilds = services.GetRequiredService<ProjectionRebuilds>();
        var store = services.GetRequiredService<IDocumentStore>();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        if (args is [] or ["--list"])
        {
            var list = await ProjectionEndpoints.DescribeAsync(readModels, rebuilds, services.GetRequiredService<DaemonProgress>(), CancellationToken.None);
            Console.WriteLine($"{"read model",-14} {"lifecycle",-9} {"version",7} {"status",-11} {"position",12} {"high-water",12} {"lag",10}  node");
            foreach (var p in list.Items)
                Console.WriteLine($"{p.Name,-14} {p.Lifecycle,-9} {p.Version,7} {p.Status,-11} {p.Position,12} {p.HighWaterMark,12} {p.Lag,10}  {p.Node ?? "-"}");

            Console.WriteLine("Rebuild one with: rebuild <name>, or every one with: rebuild all");
            return 0;
        }

        if (args is [var name, "--customer", var customer, ..])
        {
            if (readModels.Find(name) is not { PerCustomer: true } tableModel)
            {
                Console.Error.WriteLine($"One customer's rows can be rebuilt for the table read models: " +
                                        string.Join(", ", readModels.All.Where(m => m.PerCustomer).Select(m => m.Name)) + ".");
                return 2;
            }

            var began = DateTimeOffset.UtcNow;
            var replayed = await rebuilds.RebuildCustomerAsync(tableModel, customer, (done, total) =>
            {
                var seconds = Math.Max((DateTimeOffset.UtcNow - began).TotalSeconds, 0.001);
                var eta = done < total && done > 0 ? $", about {(total - done) / (done / seconds):0} s left" : "";
                Console.Write($"\r{tableModel.Name} for {customer}: {done:N0} / {total:N0} events, {done / seconds:N0} events/s{eta}   ");
            }, CancellationToken.None);
            Console.WriteLine();
            Console.WriteLine($"{tableModel.Name} for {customer}: completed, {replayed:N0} events replayed");
            return 0;
        }

        var verify = args.Contains("--verify");
        var targets = args[0].Equals("all", StringComparison.OrdinalIgnoreCase)
            ? readModels.All
            : readModels.Find(args[0]) is { } one ? [one] : [];
        if (targets.Count == 0)
        {
            Console.Error.WriteLine($"No read model '{args[0]}'. Known: {string.Join(", ", readModels.All.Select(m => m.Name))}, or all.");
            return 2;
        }

        foreach (var model in targets)
        {
            var started = DateTimeOffset.UtcNow;
            var result = await rebuilds.RunNowAsync(model, verify, status =>
            {
                var seconds = Math.Max((DateTimeOffset.UtcNow - started).TotalSeconds, 0.001);
                var rate = status.Processed / seconds;
                var eta = rate > 0 && status.Total > status.Processed ? $", about {(status.Total - status.Processed) / rate:0} s left" : "";
                Console.Write($"\r{model.Name}: {status.Processed:N0} / {status.Total:N0} events, {rate:N0} events/s{eta}   ");
            }, CancellationToken.None);
            Console.WriteLine();
            Console.WriteLine($"{model.Name}: {result.Status}{(result.Error is null ? "" : ": " + result.Error)}");
            if (result.Status != "completed") return 1;
            if (verify)
            {
                Console.WriteLine($"{model.Name}: {result.DifferenceCount ?? 0} row(s) differ from a replay of the events; nothing was replaced");
                foreach (var difference in result.Differences) Console.WriteLine("  " + difference);
                if (result.DifferenceCount > 0) return 3;
            }
        }

        return 0;
    }
}
