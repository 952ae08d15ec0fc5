using Ledger.Common;

namespace Ledger.Wallets;

// Money events of a customer's wallet. They live on the customer's stream, after CustomerRegistered
// (which opens the wallet), and carry the client's command id as their idempotency key.

public sealed record WalletToppedUp(string CustomerId, string TopUpId, Money Amount, string? Reference, DateTimeOffset ToppedUpAt);

public sealed record WalletDebited(string CustomerId, string DebitId, Money Amount, string Reason, DateTimeOffset DebitedAt);

/// <summary>A signed correction: positive credits the wallet, negative debits it.</summary>
public sealed record WalletAdjusted(string CustomerId, string AdjustmentId, Money Amount, string Reason, DateTimeOffset AdjustedAt);
