using Ledger.Hosting;
using Marten;
using Npgsql;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Ledger.Wallets;

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
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.TopUp, customerId, http, store, dataSource, clock);
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
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.Debit, customerId, http, store, dataSource, clock);
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
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.Adjustment, customerId, http, store, dataSource, clock);
}
