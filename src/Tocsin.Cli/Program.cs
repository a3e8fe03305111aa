using Tocsin.Cli;
using Tocsin.Diagnostics;

ThreadPoolSettings.Apply();
return await TocsinCommand.RunAsync(args).ConfigureAwait(false);
