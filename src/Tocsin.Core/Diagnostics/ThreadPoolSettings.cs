namespace Tocsin.Diagnostics;

/// <summary>
/// The thread pool the agent runs with. The engine does synchronous SQLite work (the writer's commits, the notifier's and
/// exporter's reads and writes) on pool threads, each a few to a few hundred milliseconds; on a small machine (2 cores → 2
/// worker threads to start with) two such chunks at once leave no thread for the scheduler, and the pool adds threads only
/// about twice a second: runs then start up to a second late. Measured with <c>bench/alerting</c> (10,000 checks turning
/// CRITICAL at once, 2 cores): schedule lag p99 710–880 ms with the default minimum, 14 ms with 16.
/// </summary>
public static class ThreadPoolSettings
{
    /// <summary>The fewest worker threads the pool keeps ready: 4 per core, at least 16.</summary>
    public static int MinWorkerThreads => Math.Max(16, 4 * Environment.ProcessorCount);

    /// <summary>Raises the pool's minimum of worker threads to <see cref="MinWorkerThreads"/> (never lowers it).</summary>
    public static void Apply()
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (workers < MinWorkerThreads)
        {
            ThreadPool.SetMinThreads(MinWorkerThreads, io);
        }
    }
}
