using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Tocsin.Alerting;
using Tocsin.Checks;
using Tocsin.Configuration;

namespace Tocsin.Core.Tests.Alerting.Channels;

/// <summary>Sample notifications.</summary>
internal static class Samples
{
    public static readonly DateTimeOffset At = new(2026, 3, 1, 10, 15, 0, TimeSpan.Zero);

    public static readonly Guid Id = Guid.Parse("0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");

    public static readonly Guid Incident = Guid.Parse("0195a1b2-0000-7000-8000-000000000001");

    public static Notification Problem(string channel = "ops", string message = "HTTP 503 Service Unavailable") => new(
        Id, $"{Incident:D}:problem:{channel}", NotificationType.Problem, channel, "site-home", "http", CheckState.CRITICAL, CheckState.OK,
        At, At.AddMinutes(-12), message, Incident, 0, "https://tocsin.example.org/checks/site-home");

    public static Notification Of(NotificationType type, CheckState state = CheckState.CRITICAL, CheckState previous = CheckState.OK, int sequence = 0) =>
        Problem() with { Type = type, State = state, PreviousState = previous, Sequence = sequence, Since = state == CheckState.OK && type != NotificationType.Recovery ? null : At.AddMinutes(-12) };
}

/// <summary>A channel made from a config entry the way an agent makes it, with captured logs.</summary>
internal sealed class ChannelUnderTest : IDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly HttpClient _http = new(new SocketsHttpHandler { AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };

    public ChannelUnderTest(string channelJson, FakeTimeProvider? time = null, string? configPath = null)
    {
        var types = NotificationChannelTypes.CreateDefault();
        var loader = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System), types);
        var config = loader.Parse($$"""{ "notifications": [ {{channelJson}} ] }""", configPath ?? Path.Combine(Path.GetTempPath(), "tocsin-channel-tests", "config.json"));
        Definition = Assert.Single(config.Notifications);
        Type = types.Get(Definition.Type);
        Logs = new FakeLogCollector();
        _loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(Logs)));
        Time = time ?? new FakeTimeProvider(Samples.At.AddSeconds(5));
        Channel = Type.Create(Definition.Name, Definition.Options, new NotificationChannelContext(_http, Time, _loggers));
    }

    public NotificationChannelDefinition Definition { get; }

    public INotificationChannelType Type { get; }

    public INotificationChannel Channel { get; }

    public FakeLogCollector Logs { get; }

    public TimeProvider Time { get; }

    public string Describe() => Type.Describe(Definition.Options);

    /// <summary>Every captured log line (message and exception text).</summary>
    public string AllLogText() => string.Join("\n", Logs.GetSnapshot().Select(r => r.Message + " " + r.Exception));

    /// <summary>Sends and returns the delivery failure.</summary>
    public async Task<NotificationDeliveryException> FailAsync(Notification notification) =>
        await Assert.ThrowsAsync<NotificationDeliveryException>(() => Channel.SendAsync(notification, TestContext.Current.CancellationToken));

    public void Dispose()
    {
        _loggers.Dispose();
        _http.Dispose();
    }
}

/// <summary>One request a <see cref="HttpReceiver"/> got.</summary>
internal sealed record ReceivedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers, byte[] Body, bool? SignatureValid)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public string Header(string name) => Headers.TryGetValue(name, out var v) ? v : "";
}

/// <summary>
/// A real Kestrel HTTP receiver on 127.0.0.1 that records every request to any path and answers <see cref="Status"/> with
/// <see cref="Answer"/>. With <see cref="Secret"/> set it verifies Tocsin's webhook signature the way the README tells a
/// receiver to: HMAC-SHA256 over "&lt;X-Tocsin-Timestamp&gt;.&lt;raw body&gt;", compared in constant time.
/// </summary>
internal sealed class HttpReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    public ConcurrentQueue<ReceivedRequest> Requests { get; } = new();

    public int Status { get; set; } = 200;

    public string Answer { get; set; } = "ok";

    public string? Secret { get; set; }

    public Uri BaseAddress { get; private set; } = null!;

    public Uri Url(string pathAndQuery) => new(BaseAddress, pathAndQuery);

    public static async Task<HttpReceiver> StartAsync()
    {
        var receiver = new HttpReceiver();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(1));
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single());
        receiver._app = app;
        return receiver;
    }

    /// <summary>Whether <paramref name="signature"/> (<c>sha256=&lt;hex&gt;</c>) signs <c>timestamp + "." + body</c> with <paramref name="secret"/>.</summary>
    public static bool Verify(string secret, string timestamp, byte[] body, string signature)
    {
        if (!signature.StartsWith("sha256=", StringComparison.Ordinal))
        {
            return false;
        }

        byte[] signed = [.. Encoding.ASCII.GetBytes(timestamp), (byte)'.', .. body];
        byte[] expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        byte[] given;
        try
        {
            given = Convert.FromHexString(signature["sha256=".Length..]);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(expected, given);
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        byte[] body = buffer.ToArray();
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        bool? valid = Secret is { } secret
            ? Verify(secret, headers.GetValueOrDefault("X-Tocsin-Timestamp", ""), body, headers.GetValueOrDefault("X-Tocsin-Signature", ""))
            : null;
        Requests.Enqueue(new ReceivedRequest(context.Request.Method, context.Request.Path.Value ?? "", context.Request.QueryString.Value ?? "", headers, body, valid));
        context.Response.StatusCode = Status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(Answer, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
