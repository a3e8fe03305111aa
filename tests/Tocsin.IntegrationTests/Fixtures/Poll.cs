namespace Tocsin.IntegrationTests.Fixtures;

/// <summary>Waits for a condition by polling, with a generous deadline instead of a timed assertion.</summary>
public static class Poll
{
    /// <summary>
    /// Calls <paramref name="probe"/> every <c>100 ms</c> until <paramref name="done"/> holds for its value and
    /// returns that value; throws <see cref="TimeoutException"/> naming <paramref name="what"/> (and
    /// <paramref name="diagnostics"/>, e.g. a child's stderr) when <paramref name="deadline"/> passes first.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<T> probe, Func<T, bool> done, TimeSpan deadline, string what, Func<string>? diagnostics = null)
    {
        var end = DateTime.UtcNow + deadline;
        T last = probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"Waited {deadline.TotalSeconds} s for {what}; last value: {last}.{Environment.NewLine}{diagnostics?.Invoke()}");
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
            last = probe();
        }

        return last;
    }

    /// <summary>As <see cref="UntilAsync{T}(Func{T}, Func{T, bool}, TimeSpan, string, Func{string}?)"/> with an asynchronous probe (e.g. an HTTP request), every <c>250 ms</c>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan deadline, string what, Func<string>? diagnostics = null)
    {
        var end = DateTime.UtcNow + deadline;
        T last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > end)
            {
                throw new TimeoutException($"Waited {deadline.TotalSeconds} s for {what}; last value: {last}.{Environment.NewLine}{diagnostics?.Invoke()}");
            }

            await Task.Delay(250, TestContext.Current.CancellationToken);
            last = await probe();
        }

        return last;
    }
}
