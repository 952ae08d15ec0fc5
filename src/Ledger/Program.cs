using JasperFx;
using Ledger.Hosting;

var builder = WebApplication.CreateBuilder(args);

// `token` mints a development token from the configured signing key, without starting the host.
if (args is ["token", ..])
{
    return DevelopmentToken.Run(args[1..], builder.Configuration);
}

builder.AddLedger();
var app = builder.Build();

// `rebuild <name|all>` rebuilds read models from the events on a running ledger (see docs/operating.md).
if (args is ["rebuild", ..])
{
    return await Ledger.Operations.RebuildCommand.RunAsync(app.Services, args[1..]);
}

// `verify [--customer <id>]` checks the hash chains and the read models against the events (see docs/audit.md).
if (args is ["verify", ..])
{
    return await Ledger.Audit.VerifyCommand.RunAsync(app.Services, args[1..]);
}

app.UseLedger();

// Serving (no arguments) runs the host directly: JasperFx's command runner would first print a
// line per assembly it searches for commands. Its commands (`codegen`, `describe`, `resources`, …)
// still run through it.
if (args.Length == 0)
{
    await app.RunAsync();
    return 0;
}

return await app.RunJasperFxCommands(args);

/// <summary>Exposed for the integration tests' host.</summary>
public partial class Program;
