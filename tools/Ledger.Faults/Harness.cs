using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Npgsql;

namespace Ledger.Faults;

/// <summary>What the harness is given by scripts/faults.sh: the service build, its own PostgreSQL and the development broker.</summary>
public sealed record HarnessSettings(bool Long, string ServiceDll, string Root, string PgDir, int PgPort, string Kafka, int KafkaPid)
{
    /// <summary>The harness's own connections are not pooled: a restart of PostgreSQL must not fail its counts.</summary>
    public string Database => $"Host=127.0.0.1;Port={PgPort};Database=ledger;Username=postgres;Timeout=3;Pooling=false";

    public static HarnessSettings FromEnvironment(string[] args)
    {
        string Env(string name) => Environment.GetEnvironmentVariable(name) ?? throw new InvalidOperationException($"{name} is not set: run scripts/faults.sh.");
        return new HarnessSettings(args.Contains("--long"), Env("FAULTS_SERVICE_DLL"), Env("FAULTS_ROOT"), Env("FAULTS_PG_DIR"),
            int.Parse(Env("FAULTS_PG_PORT")), Env("FAULTS_KAFKA"), int.Parse(Env("FAULTS_KAFKA_PID")));
    }
}

/// <summary>The service as a process the harness can kill and start again, on a fixed port.</summary>
public sealed class Service(HarnessSettings settings, int port, IReadOnlyDictionary<string, string>? environment = null) : IDisposable
{
    public const string SigningKey = "faults-signing-key-0123456789abcdef-0123456789";
    private Process? _process;
    private readonly StringBuilder _log = new();

    public string Url { get; } = $"http://127.0.0.1:{port}";

    /// <summary>The node's name (Ledger:NodeName), when the harness gave it one.</summary>
    public string? Name => environment?.GetValueOrDefault("Ledger__NodeName");

    public int Pid => _process?.Id ?? 0;

    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public string LogTail => _log.Length > 4000 ? _log.ToString(_log.Length - 4000, 4000) : _log.ToString();

    public async Task StartAsync()
    {
        var start = new ProcessStartInfo("dotnet", [settings.ServiceDll])
        {
            WorkingDirectory = Path.GetDirectoryName(settings.ServiceDll)!, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment["LEDGER_CONNECTION"] = $"Host=127.0.0.1;Port={settings.PgPort};Database=ledger;Username=postgres";
        start.Environment["Ledger__Auth__SigningKey"] = SigningKey;
        start.Environment["ASPNETCORE_URLS"] = Url;
        start.Environment["Ledger__Kafka__BootstrapServers"] = settings.Kafka;
        start.Environment["Ledger__Durability"] = "Solo";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitReadyAsync(TimeSpan.FromSeconds(90));
    }

    public async Task<TimeSpan> WaitReadyAsync(TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (_process is { HasExited: true }) throw new InvalidOperationException($"The service exited ({_process.ExitCode}):\n{LogTail}");
            try
            {
                if ((await http.GetAsync(Url + "/health/ready")).StatusCode == HttpStatusCode.OK) return clock.Elapsed;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"The service was not ready within {limit.TotalSeconds:0} s:\n{LogTail}");
    }

    /// <summary>SIGKILL: no shutdown, no flush, no goodbye.</summary>
    public void Kill()
    {
        if (_process is null) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process = null;
    }

    public void Dispose() => Kill();
}

/// <summary>The harness's own PostgreSQL, stopped and started through the scripts' recipe.</summary>
public sealed class Postgres(HarnessSettings settings)
{
    public Task StopAsync() => RunAsync($"stop_postgres '{settings.PgDir}'");

    public Task StartAsync() => RunAsync($"start_postgres '{settings.PgDir}' {settings.PgPort} -c fsync=off");

    private async Task RunAsync(string command)
    {
        var start = new ProcessStartInfo("bash", ["-c", $"source scripts/lib/postgres.sh && {command}"])
        {
            WorkingDirectory = settings.Root, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{command} failed: {output}");
    }
}

/// <summary>A client of the public API, as a metering client or payments would write one.</summary>
public sealed class Api
{
    private readonly HttpClient _http;

    public Api(string url, string token, TimeSpan? timeout = null)
    {
        _http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = new Uri(url), Timeout = timeout ?? TimeSpan.FromSeconds(15),
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    /// <summary>Sends; an answer is (status, body, whether it carried Retry-After); no answer (connection lost, timeout) is null.</summary>
    public async Task<(HttpStatusCode Status, JsonNode? Body, bool RetryAfter)?> SendAsync(HttpMethod method, string path, string? json = null)
    {
        try
        {
            using var request = new HttpRequestMessage(method, path);
            if (json is not null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await _http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            JsonNode? body = null;
            try { body = text.Length > 0 ? JsonNode.Parse(text) : null; } catch (System.Text.Json.JsonException) { }
            return (response.StatusCode, body, response.Headers.RetryAfter is not null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return null;
        }
    }

    public async Task<JsonNode?> MustAsync(HttpMethod method, string path, string? json = null)
    {
        var answer = await SendAsync(method, path, json) ?? throw new InvalidOperationException($"{method} {path}: no answer");
        if ((int)answer.Status >= 300) throw new InvalidOperationException($"{method} {path}: {(int)answer.Status} {answer.Body?.ToJsonString()}");
        return answer.Body;
    }
}

/// <summary>Counts in the harness's database: what the ledger really stored.</summary>
public static class Stored
{
    /// <summary>(rows, distinct ids) of the usage events whose id starts with the prefix.</summary>
    public static async Task<(long Rows, long Distinct)> UsageAsync(string database, string prefix)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select count(*), count(distinct data ->> 'eventId') from ledger.mt_events where type = 'usage_recorded' and data ->> 'eventId' like $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = prefix + "%" });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }

    /// <summary>Units of usage in the events, and in the rollups' totals (every usage event, every customer).</summary>
    public static async Task<(decimal Events, decimal RolledUp)> UsageUnitsAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select (select coalesce(sum((data ->> 'quantity')::numeric), 0) from ledger.mt_events where type = 'usage_recorded'), " +
            "(select coalesce(sum(quantity), 0) from ledger.usage_rollups where dimension = '')", connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetDecimal(0), reader.GetDecimal(1));
    }

    /// <summary>Envelopes waiting in Wolverine's durable outbox (in whichever schema its tables live).</summary>
    public static async Task<long> OutboxAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var find = new NpgsqlCommand(
            "select table_schema from information_schema.tables where table_name = 'wolverine_outgoing_envelopes' limit 1", connection);
        var schema = (string)(await find.ExecuteScalarAsync())!;
        await using var count = new NpgsqlCommand($"select count(*) from \"{schema}\".wolverine_outgoing_envelopes", connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }

    /// <summary>(rows, distinct ids) of the top-ups whose id starts with the prefix.</summary>
    public static async Task<(long Rows, long Distinct)> TopUpsAsync(string database, string prefix)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select count(*), count(distinct data ->> 'topUpId') from ledger.mt_events where type = 'wallet_topped_up' and data ->> 'topUpId' like $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = prefix + "%" });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
