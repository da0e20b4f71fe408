using System.Security.Cryptography;

namespace PuoOps.Engine.Secrets;

/// <summary>
/// Reset-PuoApiKey: the runbook's <c>migrate_to_secure.py --regenerate-keys</c> / <c>--rotate-all-keys</c>. New values
/// come from the OS's CSPRNG; the file is first copied to an owner-only backup beside it, then replaced atomically
/// (<see cref="AtomicFile"/>), so a kill at any moment leaves the complete old file or the complete new one.
/// </summary>
public static class ApiKeyRotationService
{
    public const string ApiKey = "API_KEY";
    public const string JwtSecret = "JWT_SECRET";
    public const int DefaultLength = 64;

    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    // Punctuation that shells and dotenv readers all take literally inside single quotes: no quote, backslash, backtick or space.
    private const string Symbols = "!#$%&()*+,-./:;<=>?@[]^_{|}~";

    /// <summary>A uniformly random value (no modulo bias) of <paramref name="length"/> characters.</summary>
    public static string NewValue(int length, bool includeSymbols) =>
        new(RandomNumberGenerator.GetItems<char>(includeSymbols ? Alphanumerics + Symbols : Alphanumerics, length));

    /// <summary>
    /// Gives each key of <paramref name="values"/> its new value in <paramref name="file"/>, everything else kept byte for
    /// byte; returns the backup's path. The new content is built (and checked) before anything on disk changes.
    /// </summary>
    public static string? Apply(DotEnvFile file, IReadOnlyDictionary<string, string> values, DateTimeOffset time)
    {
        var content = file.With(values);
        var backup = AtomicFile.Backup(file.Path, time);
        AtomicFile.Write(file.Path, content);
        return backup;
    }

    /// <summary>The compose project that reads the file: its own COMPOSE_PROJECT_NAME wins over the environment's, as in compose.</summary>
    public static string ComposeProject(DotEnvFile file, string environmentProject) =>
        file.TryGetValue("COMPOSE_PROJECT_NAME", out var project) && project.Length > 0 ? project : environmentProject;
}
