using Confluent.Kafka;

// `produce BOOTSTRAP TOPIC KEY` sends each line of standard input as one record; `consume BOOTSTRAP
// TOPIC` prints a topic from the start (key, headers, value) until Ctrl-C — so a newcomer can try the
// Kafka path without any other tool.
if (args is ["produce", var produceTo, var produceTopic, var key])
{
    using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = produceTo }).Build();
    var count = 0;
    while (Console.ReadLine() is { } line)
    {
        if (line.Length == 0) continue;
        await producer.ProduceAsync(produceTopic, new Message<string, string> { Key = key, Value = line });
        count++;
    }

    Console.WriteLine($"produced {count} record(s) to {produceTopic}");
    return;
}

if (args is ["consume", var consumeFrom, var consumeTopic])
{
    using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
    {
        BootstrapServers = consumeFrom, GroupId = "reader-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest,
        EnableAutoCommit = false, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 1500,
    }).Build();
    consumer.Subscribe(consumeTopic);
    using var cancel = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
    try
    {
        while (!cancel.IsCancellationRequested)
        {
            var record = consumer.Consume(cancel.Token);
            var headers = string.Join(" ", record.Message.Headers?.Select(h => $"{h.Key}={System.Text.Encoding.UTF8.GetString(h.GetValueBytes())}") ?? []);
            Console.WriteLine($"{record.Message.Key} {headers} {record.Message.Value}".Replace("  ", " "));
        }
    }
    catch (OperationCanceledException)
    {
    }

    consumer.Close();
    return;
}

// Otherwise: a Kafka-protocol broker for development and tests: librdkafka's mock cluster, hosted by an
// AdminClient that lives as long as this process. It writes the bootstrap address to the file
// given as the first argument (default ./kafka-bootstrap), pre-creates the ledger's topics (the
// mock cluster creates a topic, with 4 partitions, when a client asks for its metadata) and runs
// until SIGTERM or Ctrl-C. No transactions, no topic admin API: see docs/kafka.md.
var file = args.Length > 0 ? args[0] : "kafka-bootstrap";
var brokers = int.TryParse(Environment.GetEnvironmentVariable("KAFKA_MOCK_BROKERS"), out var n) ? n : 1;
string[] topics = ["ledger.usage.v1", "ledger.usage.v1.dlq", "ledger.events.v1", .. args.Skip(1)];

var config = new AdminClientConfig { BootstrapServers = "mock:9092" };
config.Set("test.mock.num.brokers", brokers.ToString(System.Globalization.CultureInfo.InvariantCulture));
// The mock cluster's thread stops for good when its poll() is interrupted by a signal (EINTR), and
// the .NET runtime handles SIGCONT — so a broker frozen with SIGSTOP and resumed with SIGCONT (as the
// outbox test does) would die. Its threads inherit the signal mask of the thread that creates them:
// create them with every signal blocked, so signals go to the runtime's own threads instead.
var everySignal = new byte[128];
Array.Fill(everySignal, (byte)0xFF);
var previous = new byte[128];
Signals.Mask(Signals.Block, everySignal, previous);
IAdminClient admin;
try
{
    admin = new AdminClientBuilder(config).Build();
}
finally
{
    Signals.Mask(Signals.SetMask, previous, new byte[128]);
}


var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
var bootstrap = string.Join(",", metadata.Brokers.Select(b => $"{b.Host}:{b.Port}"));

// A metadata request for a topic creates it on the mock cluster (4 partitions).
using var probe = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
foreach (var topic in topics)
{
    var partitions = 0;
    for (var attempt = 0; attempt < 50 && partitions == 0; attempt++)
    {
        partitions = probe.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Count;
        if (partitions == 0) Thread.Sleep(100);
    }

    Console.WriteLine($"topic {topic}: {partitions} partitions");
}

File.WriteAllText(file + ".tmp", bootstrap);
File.Move(file + ".tmp", file, overwrite: true);
Console.WriteLine($"Kafka mock cluster ({brokers} broker(s)) at {bootstrap}; address written to {file}");

var stop = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
{
    c.Cancel = true;
    stop.TrySetResult();
});
await stop.Task;
admin.Dispose();

internal static class Signals
{
    public const int Block = 0;
    public const int SetMask = 2;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "pthread_sigmask", SetLastError = true)]
    private static extern int PthreadSigmask(int how, byte[] set, byte[] oldSet);

    public static void Mask(int how, byte[] set, byte[] previous)
    {
        if (PthreadSigmask(how, set, previous) != 0) throw new InvalidOperationException("pthread_sigmask failed");
    }
}
