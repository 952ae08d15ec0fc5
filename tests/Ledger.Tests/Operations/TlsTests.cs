using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Ledger.Tests.Infrastructure;

namespace Ledger.Tests.Operations;

/// <summary>
/// HTTPS through Kestrel's own certificate configuration (<c>Kestrel__Certificates__Default__*</c>),
/// end to end against the service as a real process, with a self-signed certificate and a client
/// that verifies it against that certificate as its only trusted root.
/// </summary>
[Collection(Name)]
public sealed class TlsTests
{
    public const string Name = "tls";

    [Fact]
    public async Task The_service_serves_https_with_the_configured_certificate_and_a_verifying_client_accepts_it()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=ledger-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.Combine(Path.GetTempPath(), $"ledger-tls-{Guid.NewGuid():N}.pfx");
        await File.WriteAllBytesAsync(pfx, certificate.Export(X509ContentType.Pfx, "test-password"));
        using var trusted = X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert));

        var port = ServiceProcess.FreePort();
        using var process = ServiceProcess.Start(new Dictionary<string, string>
        {
            ["LEDGER_CONNECTION"] = LedgerApp.ConnectionString,
            ["Ledger__Schema"] = "tls_" + Guid.NewGuid().ToString("N")[..8],
            ["Ledger__Auth__SigningKey"] = LedgerApp.SigningKey,
            ["Ledger__Roles"] = "api",
            ["Ledger__Durability"] = "Solo",
            ["ASPNETCORE_URLS"] = $"https://127.0.0.1:{port}",
            ["Kestrel__Certificates__Default__Path"] = pfx,
            ["Kestrel__Certificates__Default__Password"] = "test-password",
            ["Logging__LogLevel__Default"] = "Warning",
        });
        string? presentedThumbprint = null;

        using var verifying = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions
            {
                // Verified, not waved through: the chain must end at this certificate and the name must match.
                RemoteCertificateValidationCallback = (_, presented, _, errors) =>
                {
                    if (presented is null || (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
                    presentedThumbprint = new X509Certificate2(presented).Thumbprint;
                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(trusted);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(presented));
                },
            },
        }) { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
        using var defaultTrust = new HttpClient { BaseAddress = new Uri($"https://127.0.0.1:{port}") };
        try
        {
            HttpResponseMessage? response = null;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (response is null && DateTime.UtcNow < deadline && !process.HasExited)
            {
                try
                {
                    response = await verifying.GetAsync("/health/live");
                }
                catch (HttpRequestException e) when (e.InnerException is System.Net.Sockets.SocketException)
                {
                    await Task.Delay(250);
                }
            }

            response.ShouldNotBeNull("the service did not answer over HTTPS");
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            presentedThumbprint.ShouldBe(certificate.Thumbprint); // the certificate configured through Kestrel's settings
            // A client that trusts only the machine's roots refuses the self-signed certificate: the check above is real.
            await Should.ThrowAsync<HttpRequestException>(() => defaultTrust.GetAsync("/health/live"));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            File.Delete(pfx);
        }
    }
}
