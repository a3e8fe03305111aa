using Tocsin.Cli;

return await TocsinCommand.RunAsync(args).ConfigureAwait(false);
