using System.CommandLine;
using System.Text;
using Tocsin.Access;

namespace Tocsin.Cli.Commands;

/// <summary>
/// <c>tocsin auth hash [--token]</c>: prints a password hash for <c>web.auth.users[].passwordHash</c> (the password is
/// read from the terminal without echo, or from the first line of stdin when piped), or with <c>--token</c> makes a new
/// random token and prints it and its SHA-256 for <c>web.auth.tokens[].tokenSha256</c>.
/// </summary>
internal static class AuthCommands
{
    /// <summary>Exit code when no password was given (sysexits.h <c>EX_USAGE</c>).</summary>
    public const int NoPasswordExitCode = 64;

    public static Command Build()
    {
        var auth = new Command("auth", "Credentials for the web interface's write endpoints and private area (web.auth).");
        var token = new Option<bool>("--token")
        {
            Description = "Make a new random bearer token; print \"token: …\" (give it to the client) and \"tokenSha256: …\" (put it in web.auth.tokens).",
        };
        var hash = new Command("hash", "Print a PBKDF2-SHA256 hash of a password read from stdin (no echo on a terminal), for web.auth.users[].passwordHash; or a new token with --token.") { token };
        hash.SetAction(parse => parse.GetValue(token) ? PrintToken() : PrintPasswordHash());
        auth.Subcommands.Add(hash);
        return auth;
    }

    private static int PrintToken()
    {
        string t = AccessTokens.Create();
        Console.Out.WriteLine($"token: {t}");
        Console.Out.WriteLine($"tokenSha256: {AccessTokens.Sha256Hex(t)}");
        return 0;
    }

    private static int PrintPasswordHash()
    {
        string? password = Console.IsInputRedirected ? Console.In.ReadLine() : ReadHidden("Password: ");
        if (string.IsNullOrEmpty(password))
        {
            Console.Error.WriteLine("No password given: type one, or pipe it on stdin (e.g. printf '%s\\n' \"$PASSWORD\" | tocsin auth hash).");
            return NoPasswordExitCode;
        }

        if (!Console.IsInputRedirected && ReadHidden("Again: ") != password)
        {
            Console.Error.WriteLine("The two passwords differ.");
            return NoPasswordExitCode;
        }

        Console.Out.WriteLine(PasswordHash.Create(password));
        return 0;
    }

    /// <summary>Reads a line from the terminal without echoing it; the prompt goes to stderr.</summary>
    private static string ReadHidden(string prompt)
    {
        Console.Error.Write(prompt);
        var sb = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0)
                {
                    sb.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                sb.Append(key.KeyChar);
            }
        }

        Console.Error.WriteLine();
        return sb.ToString();
    }
}
