using Confluent.Kafka;
using Ledger.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ledger.Metering.Kafka;

public static class KafkaModule
{
    /// <summary>Kafka bridging when <c>Ledger:Kafka:BootstrapServers</c> is set: the usage consumers (role <c>ingest</c>) and a readiness check.</summary>
    public static IServiceCollection AddKafkaBridge(this IServiceCollection services, KafkaSettings settings, LedgerRoles roles)
    {
        services.AddSingleton(settings);
        if (!settings.Enabled) return services;
        if (roles.Ingest) services.AddHostedService<UsageTopicListener>();
        services.AddSingleton(new KafkaHealthCheck(settings));
        services.AddHealthChecks().Add(new HealthCheckRegistration("kafka", sp => sp.GetRequiredService<KafkaHealthCheck>(), HealthStatus.Unhealthy, ["ready"],
            TimeSpan.FromSeconds(5)));
        return services;
    }

    /// <summary>
    /// Ready when the brokers answer a metadata request for the usage topic. One admin client for
    /// the life of the process: creating one per probe costs a connection and ~200 ms.
    /// </summary>
    private sealed class KafkaHealthCheck(KafkaSettings settings) : IHealthCheck, IDisposable
    {
        private readonly Lazy<IAdminClient> _admin = new(() => new AdminClientBuilder(new AdminClientConfig { BootstrapServers = settings.BootstrapServers }).Build());

        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.Run(() =>
            {
                try
                {
                    var metadata = _admin.Value.GetMetadata(settings.UsageTopic, TimeSpan.FromSeconds(3));
                    return metadata.Brokers.Count > 0
                        ? HealthCheckResult.Healthy($"{metadata.Brokers.Count} broker(s)")
                        : HealthCheckResult.Unhealthy("No broker answered.");
                }
                catch (KafkaException e)
                {
                    return HealthCheckResult.Unhealthy(e.Error.Reason);
                }
            }, cancellationToken);

        public void Dispose()
        {
            if (_admin.IsValueCreated) _admin.Value.Dispose();
        }
    }
}
