using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>
/// One headless Debian Chromium driven by Debian's chromedriver through Selenium, for one test. Nothing is
/// downloaded: the driver and the browser are the installed <c>/usr/bin/chromedriver</c> and <c>/usr/bin/chromium</c>
/// (packages <c>chromium</c> and <c>chromium-driver</c>, which <c>scripts/test</c> installs; <see cref="ChromiumVariable"/>
/// and <see cref="DriverVariable"/> may name others), so Selenium Manager never runs. When either is missing,
/// <see cref="Start"/> fails the test with a message saying what to install.
/// The profile is a private temp folder, deleted on dispose; background networking (updates, safe browsing,
/// sync, metrics) is off, so the browser talks only to the addresses a test opens.
/// <para>
/// Screenshots go to <c>&lt;test output&gt;/screenshots/&lt;test class&gt;/&lt;test method&gt;/&lt;name&gt;.png</c>
/// (<see cref="ScreenshotFolder"/>), their path is written to the test's output, and each is attached to the test
/// result. When the test did not pass, dispose saves <c>failure.png</c> and <c>failure.html</c> (the page source)
/// there first, with the page's URL and title in the test output.
/// </para>
/// </summary>
public sealed class Browser : IDisposable
{
    /// <summary>Longest a page load, a wait or a WebDriver command may take.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    /// <summary>Width and height of the window, so screenshots have one size.</summary>
    public const int Width = 1280, Height = 900;

    /// <summary>Where screenshots of all tests go: <c>screenshots</c> beside the test assembly.</summary>
    public static string ScreenshotRoot { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>Environment variable naming the browser executable instead of the Debian paths.</summary>
    public const string ChromiumVariable = "TOCSIN_TEST_CHROMIUM";

    /// <summary>Environment variable naming the chromedriver executable instead of the Debian paths.</summary>
    public const string DriverVariable = "TOCSIN_TEST_CHROMEDRIVER";

    private static readonly string[] ChromiumCandidates = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"];
    private static readonly string[] DriverCandidates = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];

    private readonly ChromeDriverService _service;
    private readonly string _profile;
    private readonly string _driverLog;
    private bool _disposed;

    private Browser(ChromeDriver driver, ChromeDriverService service, string profile, string driverLog)
    {
        Driver = driver;
        _service = service;
        _profile = profile;
        _driverLog = driverLog;
    }

    /// <summary>The WebDriver, for what the helpers here do not cover.</summary>
    public ChromeDriver Driver { get; }

    /// <summary>The current page's URL.</summary>
    public Uri Url => new(Driver.Url);

    /// <summary>This test's screenshot folder: <c>screenshots/&lt;test class&gt;/&lt;test method&gt;</c> under the test output.</summary>
    public static string ScreenshotFolder
    {
        get
        {
            var context = TestContext.Current;
            string testClass = context.TestClass?.TestClassSimpleName ?? "no-class";
            string method = context.TestMethod?.MethodName ?? "no-method";
            if (context.TestCase?.TestCaseDisplayName is { } display && display.Contains('(', StringComparison.Ordinal))
            {
                // A theory row: keep its arguments apart from the other rows.
                method += "-" + display[display.IndexOf('(', StringComparison.Ordinal)..];
            }

            return Path.Combine(ScreenshotRoot, SafeName(testClass), SafeName(method));
        }
    }

    /// <summary>
    /// Starts headless Chromium (window <see cref="Width"/>×<see cref="Height"/>, a private profile) and its driver.
    /// Fails the test, naming the Debian packages to install, when either executable is missing.
    /// </summary>
    public static Browser Start()
    {
        string? chromium = FindExecutable("chromium", ChromiumVariable, ChromiumCandidates);
        string? chromedriver = FindExecutable("chromedriver", DriverVariable, DriverCandidates);
        if (chromium is null || chromedriver is null)
        {
            Assert.Fail(
                $"The browser tests need Debian's Chromium and its WebDriver: {Describe("chromium", chromium, ChromiumVariable, ChromiumCandidates)}; " +
                $"{Describe("chromedriver", chromedriver, DriverVariable, DriverCandidates)}. " +
                "Install them with: apt-get install chromium chromium-driver (scripts/test does this).");
        }

        // Selenium Manager must never run (it would download drivers and browsers). It does not when the driver's
        // path and the browser's binary are both given, as below; these keep it offline and quiet if it ever did.
        Environment.SetEnvironmentVariable("SE_OFFLINE", "true");
        Environment.SetEnvironmentVariable("SE_AVOID_STATS", "true");

        string profile = Path.Combine(Path.GetTempPath(), "tocsin-chromium-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profile);
        string driverLog = Path.Combine(profile, "chromedriver.log");

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(chromedriver)!, Path.GetFileName(chromedriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        service.LogPath = driverLog;

        var options = new ChromeOptions { BinaryLocation = chromium };
        options.AddArguments(
            "--headless=new",
            "--no-sandbox", // the tests run as root, where Chromium's sandbox refuses to start
            "--disable-dev-shm-usage",
            "--disable-gpu",
            $"--window-size={Width},{Height}",
            $"--user-data-dir={Path.Combine(profile, "user-data")}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--disable-domain-reliability",
            "--disable-client-side-phishing-detection",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication",
            "--metrics-recording-only",
            "--no-pings",
            "--lang=en-US");

        ChromeDriver driver;
        try
        {
            driver = new ChromeDriver(service, options, Deadline);
        }
        catch (WebDriverException ex)
        {
            string log = File.Exists(driverLog) ? File.ReadAllText(driverLog) : "(no chromedriver log)";
            service.Dispose();
            TryDelete(profile);
            throw new InvalidOperationException($"Could not start headless {chromium} through {chromedriver}: {ex.Message}{Environment.NewLine}chromedriver log:{Environment.NewLine}{Tail(log, 4000)}", ex);
        }

        // The viewport itself is Width×Height (the window holds some headless "chrome" around it), so every
        // screenshot has that size; the override holds for every page this tab opens.
        driver.ExecuteCdpCommand("Emulation.setDeviceMetricsOverride", new Dictionary<string, object?>
        {
            ["width"] = Width,
            ["height"] = Height,
            ["deviceScaleFactor"] = 1,
            ["mobile"] = false,
        });
        var timeouts = driver.Manage().Timeouts();
        timeouts.PageLoad = Deadline;
        timeouts.AsynchronousJavaScript = Deadline;
        timeouts.ImplicitWait = TimeSpan.Zero;
        return new Browser(driver, service, profile, driverLog);
    }

    /// <summary>Opens <paramref name="url"/> and waits for it to load (at most <see cref="Deadline"/>).</summary>
    public void Open(Uri url) => Driver.Navigate().GoToUrl(url);

    /// <summary>Reloads the current page.</summary>
    public void Reload() => Driver.Navigate().Refresh();

    /// <summary>The text of the page's body as a person sees it.</summary>
    public string BodyText => Driver.FindElement(By.TagName("body")).Text;

    /// <summary>Elements matching a CSS selector (none: an empty list).</summary>
    public IReadOnlyList<IWebElement> All(string css) => Driver.FindElements(By.CssSelector(css));

    /// <summary>The one element matching a CSS selector now; fails the test naming the selector and the page when there is none.</summary>
    public IWebElement One(string css)
    {
        var found = Driver.FindElements(By.CssSelector(css));
        Assert.True(found.Count > 0, $"No element matches \"{css}\" on {Driver.Url} (title \"{Driver.Title}\").");
        return found[0];
    }

    /// <summary>
    /// Runs <paramref name="expression"/> (JavaScript whose value is JSON-serializable) in the page and returns its value
    /// parsed: one round trip, so a page that refreshes its content meanwhile cannot leave half-read stale elements.
    /// </summary>
    public JsonNode? Evaluate(string expression)
    {
        object? json = Driver.ExecuteScript($"return JSON.stringify(({expression}));");
        return json is string text ? JsonNode.Parse(text) : null;
    }

    /// <summary>Clicks the element matching <paramref name="css"/>, finding it again when the page replaced it meanwhile.</summary>
    public void Click(string css) =>
        Until(
            d =>
            {
                d.FindElement(By.CssSelector(css)).Click();
                return true;
            },
            $"a click on \"{css}\"");

    /// <summary>
    /// Waits (at most <paramref name="deadline"/>, default <see cref="Deadline"/>) until <paramref name="probe"/> returns
    /// a non-null value (or true) and returns it; a <see cref="WebDriverException"/> thrown meanwhile (an element gone
    /// stale while the page refreshes) counts as not yet. Throws <see cref="TimeoutException"/> naming <paramref name="what"/>.
    /// </summary>
    public T Until<T>(Func<IWebDriver, T> probe, string what, TimeSpan? deadline = null)
    {
        var wait = new WebDriverWait(Driver, deadline ?? Deadline)
        {
            PollingInterval = TimeSpan.FromMilliseconds(200),
            Message = $"waiting for {what}",
        };
        wait.IgnoreExceptionTypes(typeof(NoSuchElementException), typeof(StaleElementReferenceException));
        try
        {
            return wait.Until(probe, TestContext.Current.CancellationToken);
        }
        catch (WebDriverTimeoutException ex)
        {
            throw new TimeoutException($"Waited {(deadline ?? Deadline).TotalSeconds} s for {what} on {Driver.Url} (title \"{Driver.Title}\").", ex);
        }
    }

    /// <summary>Waits until an element matches <paramref name="css"/> and returns it.</summary>
    public IWebElement WaitFor(string css, TimeSpan? deadline = null) =>
        Until<IWebElement?>(d => d.FindElements(By.CssSelector(css)).FirstOrDefault(), $"an element matching \"{css}\"", deadline)!;

    /// <summary>
    /// Reloads the page (every second, at most <paramref name="deadline"/>, default <see cref="Deadline"/>) until an element
    /// matches <paramref name="css"/>, and returns it: for what a server-rendered page shows only once the agent has it.
    /// </summary>
    public IWebElement ReloadUntil(string css, TimeSpan? deadline = null)
    {
        var end = DateTime.UtcNow + (deadline ?? Deadline);
        while (true)
        {
            var found = Driver.FindElements(By.CssSelector(css));
            if (found.Count > 0)
            {
                return found[0];
            }

            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"Reloaded {Driver.Url} for {(deadline ?? Deadline).TotalSeconds} s and no element matches \"{css}\" (title \"{Driver.Title}\").");
            }

            Thread.Sleep(1000);
            TestContext.Current.CancellationToken.ThrowIfCancellationRequested();
            Reload();
        }
    }

    /// <summary>
    /// Saves a PNG of the viewport as <c><see cref="ScreenshotFolder"/>/<paramref name="name"/>.png</c>, writes its path
    /// to the test output, attaches it to the test result, and returns the path.
    /// </summary>
    public string Screenshot(string name)
    {
        string folder = ScreenshotFolder;
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, SafeName(name) + ".png");
        var shot = Driver.GetScreenshot();
        shot.SaveAsFile(path);
        Report($"screenshot {name}: {path} ({Driver.Url})");
        Attach(name + ".png", shot.AsByteArray, "image/png");
        return path;
    }

    /// <summary>Saves the page source as <c><see cref="ScreenshotFolder"/>/<paramref name="name"/>.html</c> and returns the path.</summary>
    public string SavePageSource(string name)
    {
        string folder = ScreenshotFolder;
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, SafeName(name) + ".html");
        string source = Driver.PageSource;
        File.WriteAllText(path, source, Encoding.UTF8);
        Report($"page source {name}: {path} ({Driver.Url})");
        Attach(name + ".html", Encoding.UTF8.GetBytes(source), "text/html");
        return path;
    }

    /// <summary>Saves <c>failure.png</c> and <c>failure.html</c> of the current page; never throws (it runs while a test fails).</summary>
    public void SaveFailure()
    {
        try
        {
            Report($"the test did not pass; the browser was at {Driver.Url} (title \"{Driver.Title}\")");
            SavePageSource("failure");
            Screenshot("failure");
        }
        catch (Exception ex) when (ex is WebDriverException or IOException or InvalidOperationException)
        {
            Report($"could not save the failure's page: {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>
    /// Quits the browser and its driver and deletes the profile; first, when the test did not pass (or its outcome
    /// is not known yet), saves the page's source and a screenshot with <see cref="SaveFailure"/>.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (TestContext.Current.TestState?.Result is not TestResult.Passed)
        {
            SaveFailure();
        }

        try
        {
            Driver.Quit();
        }
        catch (WebDriverException ex)
        {
            Report($"quitting the browser failed: {ex.Message}{Environment.NewLine}{Tail(File.Exists(_driverLog) ? File.ReadAllText(_driverLog) : "", 2000)}");
        }
        finally
        {
            Driver.Dispose();
            _service.Dispose();
            TryDelete(_profile);
        }
    }

    private static void Report(string line)
    {
        var context = TestContext.Current;
        context.SendDiagnosticMessage(line);
        try
        {
            context.TestOutputHelper?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // No test is running any more (class clean-up): the diagnostic message is enough.
        }
    }

    private static void Attach(string name, byte[] bytes, string mediaType)
    {
        try
        {
            TestContext.Current.AddAttachment(name, bytes, replaceExistingValue: true, mediaType);
        }
        catch (InvalidOperationException)
        {
            // Attachments are only taken while a test runs; the file on disk is what counts.
        }
    }

    private static string? FindExecutable(string name, string variable, string[] candidates)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } chosen)
        {
            return File.Exists(chosen) ? chosen : null;
        }

        foreach (string candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string Describe(string name, string? found, string variable, string[] candidates) =>
        found is not null ? $"{name} at {found}"
        : Environment.GetEnvironmentVariable(variable) is { Length: > 0 } chosen ? $"no {name} at {chosen} ({variable})"
        : $"no {name} (looked for {string.Join(", ", candidates)} and on PATH)";

    private static string SafeName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        }

        string safe = sb.ToString();
        if (safe.Length <= 120)
        {
            return safe;
        }

        // Too long for a file name: a prefix and a stable hash (FNV-1a) of the whole name.
        uint hash = 2166136261;
        foreach (char c in name)
        {
            hash = (hash ^ c) * 16777619;
        }

        return safe[..110] + "-" + hash.ToString("x8", CultureInfo.InvariantCulture);
    }

    private static string Tail(string text, int chars) => text.Length <= chars ? text : "…" + text[^chars..];

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp profile must not fail a test.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
