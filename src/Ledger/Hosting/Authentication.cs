using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Ledger.Hosting;

/// <summary>
/// JWT bearer authentication: HS256 with the key in <c>Ledger:Auth:SigningKey</c>, or an OIDC
/// authority in <c>Ledger:Auth:Authority</c>. Issuer and audience are <c>ledger</c>.
/// </summary>
public static class Authentication
{
    public const string Issuer = "ledger";
    public const string Audience = "ledger";
    public const int MinimumKeyBytes = 32;
    public const int MaxSubjectLength = 200;

    public static IServiceCollection AddLedgerAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        var authority = configuration["Ledger:Auth:Authority"];
        var key = configuration["Ledger:Auth:SigningKey"];
        if (string.IsNullOrEmpty(authority)) SigningKey(key);

        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            // The reason a token was refused stays in the log, not in the WWW-Authenticate header.
            options.IncludeErrorDetails = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = configuration["Ledger:Auth:Issuer"] ?? Issuer,
                ValidAudience = configuration["Ledger:Auth:Audience"] ?? Audience,
                RequireExpirationTime = true,
                ValidateLifetime = true,
                NameClaimType = "sub",
                ClockSkew = TimeSpan.FromSeconds(30),
            };

            // The subject is recorded as the actor of every event: a token whose `sub` is missing,
            // longer than 200 characters or holds control characters is refused like a forged one.
            options.Events = new JwtBearerEvents
            {
                OnTokenValidated = context =>
                {
                    var subject = context.Principal?.FindFirst("sub")?.Value;
                    if (string.IsNullOrEmpty(subject) || subject.Length > MaxSubjectLength || Common.ClientText.HasControlCharacter(subject))
                    {
                        context.Fail("The token's sub claim is missing or not usable as an actor.");
                    }

                    return Task.CompletedTask;
                },
            };

            if (!string.IsNullOrEmpty(authority))
            {
                // Keys from the provider's discovery document and JWKS, refreshed as it rotates them.
                // Its issuer is usually its URL: set Ledger:Auth:Issuer to it.
                options.Authority = authority;
                options.RequireHttpsMetadata = !string.Equals(configuration["Ledger:Auth:RequireHttpsMetadata"], "false", StringComparison.OrdinalIgnoreCase);
            }
            else
            {
                options.TokenValidationParameters.IssuerSigningKey = SigningKey(key);
                options.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
            }
        });

        services.AddAuthorization(options =>
        {
            foreach (var scope in Scopes.All)
            {
                options.AddPolicy(scope, policy => policy
                    .RequireAuthenticatedUser()
                    .RequireAssertion(context => Scopes.Grants(context.User, scope)));
            }
        });

        return services;
    }

    public static SymmetricSecurityKey SigningKey(string? configured)
    {
        if (configured is null || Encoding.UTF8.GetByteCount(configured) < MinimumKeyBytes)
        {
            throw new InvalidOperationException(
                $"Set Ledger:Auth:SigningKey (env Ledger__Auth__SigningKey) to at least {MinimumKeyBytes} bytes, " +
                "or Ledger:Auth:Authority to an OIDC authority.");
        }

        return new SymmetricSecurityKey(Encoding.UTF8.GetBytes(configured));
    }

    /// <summary>Mints a token for development and tests, signed with the configured key.</summary>
    public static string MintToken(string signingKey, string subject, string scopes, TimeSpan lifetime, DateTimeOffset now)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = now.Add(lifetime).UtcDateTime,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("scope", scopes)]),
            SigningCredentials = new SigningCredentials(SigningKey(signingKey), SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }
}
