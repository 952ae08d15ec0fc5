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
return await app.RunJasperFxCommands(args);

/// <summary>Exposed for the integration tests' host.</summary>
public partial class Program;
