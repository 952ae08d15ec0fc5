using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using Ledger.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ledger.Tests.Operations;

/// <summary>
/// The OIDC path: with <c>Ledger:Auth:Authority</c> set, the service takes its signing keys from
/// the provider's discovery document and JWKS — here a real HTTP server on loopback publishing an
/// RSA key — and accepts the provider's RS256 tokens, and nothing else.
/// </summary>
public class OidcAuthorityTests
{
    [Fact]
    public async Task Tokens_signed_by_the_authoritys_published_key_are_accepted_and_others_refused()
    {
        using var providerKey = RSA.Create(2048);
        using var strangerKey = RSA.Create(2048);
        var signing = new RsaSecurityKey(providerKey) { KeyId = "provider-key-1" };

        var port = ServiceProcess.FreePort();
        var authority = $"http://127.0.0.1:{port}";
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(authority);
        await using var provider = builder.Build();
        provider.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = authority, ["jwks_uri"] = authority + "/jwks", ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(providerKey.ExportParameters(false)) { KeyId = "provider-key-1" });
        provider.MapGet("/jwks", () => Results.Json(new Dictionary<string, object>
        {
            ["keys"] = new[] { new Dictionary<string, string> { ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = jwk.Kid, ["n"] = jwk.N, ["e"] = jwk.E } },
        }));
        await provider.StartAsync();

        await using var ledger = await LedgerApp.StartHostAsync(LedgerApp.ConnectionString, "t_" + Guid.NewGuid().ToString("N")[..12], settings: new Dictionary<string, string>
        {
            ["Ledger:Auth:Authority"] = authority,
            ["Ledger:Auth:Issuer"] = authority,
            ["Ledger:Auth:RequireHttpsMetadata"] = "false",
        });

        string Token(SecurityKey key, string issuer = "") => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer.Length > 0 ? issuer : authority,
            Audience = "ledger",
            Expires = DateTime.UtcNow.AddMinutes(10),
            Subject = new ClaimsIdentity([new Claim("sub", "oidc-user"), new Claim("scope", "wallets:read")]),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });

        async Task<HttpStatusCode> Read(string token)
        {
            var client = ledger.Server.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return (await client.GetAsync("/v1/customers/nobody-here")).StatusCode;
        }

        // Authenticated and authorized: the customer simply does not exist.
        (await Read(Token(signing))).ShouldBe(HttpStatusCode.NotFound);
        // Signed by a key the provider never published, issued by someone else, or the development HS256 key: refused.
        (await Read(Token(new RsaSecurityKey(strangerKey) { KeyId = "provider-key-1" }))).ShouldBe(HttpStatusCode.Unauthorized);
        (await Read(Token(signing, issuer: "https://someone-else.example"))).ShouldBe(HttpStatusCode.Unauthorized);
        (await Read(LedgerApp.Token(Ledger.Hosting.Scopes.WalletsRead))).ShouldBe(HttpStatusCode.Unauthorized);
    }
}
