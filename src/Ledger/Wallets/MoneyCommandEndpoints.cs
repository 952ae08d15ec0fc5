using Ledger.Common;
using Ledger.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine;
using Wolverine.Http;

namespace Ledger.Wallets;

/// <summary>The HTTP edge of the money commands: read and validate the body, hand the command to its handler, answer.</summary>
public static class MoneyCommandEndpoint
{
    public static async Task<IResult> SendAsync(MoneyCommandKind kind, string customerId, HttpContext http, IMessageBus bus)
    {
        if (!ClientIds.IsValid(customerId)) return Problems.NotFound($"No wallet '{customerId}'.");

        var body = await JsonBody.ReadAsync<MoneyCommandRequest>(http.Request);
        if (body.Problem is not null) return body.Problem;

        var errors = new FieldErrors();
        var command = WalletRules.Validate(kind, customerId, body.Value!, errors);
        if (command is null) return errors.ToProblem();

        return await bus.InvokeAsync<MoneyOutcome>(command with { Actor = EventActor.From(http) }, http.RequestAborted) switch
        {
            MoneyOutcome.Applied applied => Results.Json(applied.Response, statusCode: StatusCodes.Status201Created),
            MoneyOutcome.Replayed replayed => Results.Ok(replayed.Response),
            MoneyOutcome.NoWallet => Problems.NotFound($"No wallet '{customerId}'."),
            MoneyOutcome.IdReused reused => Problems.Conflict("idempotency-conflict",
                $"Id '{reused.Id}' was already used on this wallet for a different command; choose a new id."),
            MoneyOutcome.Refused { Reason: WalletRefusal.AmountTooPrecise } refused => Problems.Validation("amount", refused.Detail),
            MoneyOutcome.Refused refused => Problems.Unprocessable("insufficient-funds", "Insufficient funds", refused.Detail),
            _ => throw new InvalidOperationException("Unknown money outcome."),
        };
    }
}

public static class TopUpWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/top-ups", OperationId = "TopUpWallet")]
    [ProducesResponseType<MoneyCommandResponse>(200)]
    [ProducesResponseType<MoneyCommandResponse>(201)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [ProducesProblem(409)]
    [ProducesProblem(413)]
    [ProducesProblem(415)]
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest), "id", "amount")]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IMessageBus bus) =>
        MoneyCommandEndpoint.SendAsync(MoneyCommandKind.TopUp, customerId, http, bus);
}

public static class DebitWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/debits", OperationId = "DebitWallet")]
    [ProducesResponseType<MoneyCommandResponse>(200)]
    [ProducesResponseType<MoneyCommandResponse>(201)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [ProducesProblem(409)]
    [ProducesProblem(413)]
    [ProducesProblem(415)]
    [ProducesProblem(422)]
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest), "id", "amount", "reason")]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IMessageBus bus) =>
        MoneyCommandEndpoint.SendAsync(MoneyCommandKind.Debit, customerId, http, bus);
}

public static class AdjustWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/adjustments", OperationId = "AdjustWallet")]
    [ProducesResponseType<MoneyCommandResponse>(200)]
    [ProducesResponseType<MoneyCommandResponse>(201)]
    [ProducesProblem(401)]
    [ProducesProblem(403)]
    [ProducesProblem(400)]
    [ProducesProblem(404)]
    [ProducesProblem(409)]
    [ProducesProblem(413)]
    [ProducesProblem(415)]
    [ProducesProblem(503)]
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest), "id", "amount", "reason")]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IMessageBus bus) =>
        MoneyCommandEndpoint.SendAsync(MoneyCommandKind.Adjustment, customerId, http, bus);
}
