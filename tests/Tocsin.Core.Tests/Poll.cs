namespace Tocsin.Core.Tests;

/// <summary>Waits for a condition by polling, with a generous deadline instead of a timed assertion.</summary>
public static class Poll
{
    /// <summary>
    /// Calls <paramref name="probe"/> every 50 ms until <paramref name="done"/> holds for its value and returns that value;
    /// throws <see cref="TimeoutException"/> naming <paramref name="what"/> and the last value when <paramref name="deadline"/>
    /// passes first.
    /// </summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan deadline, string what, Func<string>? diagnostics = null)
    {
        var end = DateTime.UtcNow + deadline;
        T last = await probe();
        while (!done(last))
        {
            if (DateTime.UtcNow > end)
            {
                string shown = last is System.Collections.IEnumerable e and not string ? string.Join(", ", e.Cast<object?>()) : $"{last}";
                throw new TimeoutException($"Waited {deadline.TotalSeconds} s for {what}; last value: {shown}.{Environment.NewLine}{diagnostics?.Invoke()}");
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
            last = await probe();
        }

        return last;
    }
}
