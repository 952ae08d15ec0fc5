using Ledger.Hosting;
using Marten;
using Npgsql;
using Microsoft.AspNetCore.Authorization;
using Wolverine.Http;

namespace Ledger.Wallets;

public static class TopUpWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/top-ups", OperationId = "TopUpWallet")]
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.TopUp, customerId, http, store, dataSource, clock);
}

public static class DebitWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/debits", OperationId = "DebitWallet")]
    [Authorize(Policy = Scopes.WalletsWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.Debit, customerId, http, store, dataSource, clock);
}

public static class AdjustWalletEndpoint
{
    [WolverinePost("/v1/wallets/{customerId}/adjustments", OperationId = "AdjustWallet")]
    [Authorize(Policy = Scopes.BillingWrite)]
    [JsonRequestBody(typeof(MoneyCommandRequest))]
    [Tags("Wallets")]
    public static Task<IResult> Post(string customerId, HttpContext http, IDocumentStore store, NpgsqlDataSource dataSource, TimeProvider clock) =>
        MoneyMovement.ExecuteAsync(MoneyCommandKind.Adjustment, customerId, http, store, dataSource, clock);
}
