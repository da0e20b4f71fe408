using System.Collections;

namespace PuoOps.Engine.Secrets;

/// <summary>
/// Test-PuoSecretEnvironment: for each secret, whether this process's environment, the .env file or both hold it,
/// how strong each value is (<see cref="SecretStrength"/>), and whether the two differ (the file changed after the
/// process, or the service, started). The runbook's <c>env | grep -E "(JWT_SECRET|API_KEY)"</c>, without printing them.
/// </summary>
public static class SecretEnvironmentService
{
    public static readonly string[] DefaultNames = ["JWT_SECRET", "API_KEY"];

    /// <summary>Where the example values live: beside the .env file, under this name.</summary>
    public const string ExampleFileName = ".env.example";

    /// <param name="envFile">The .env file; when it does not exist only the process is checked, unless <paramref name="envFileRequired"/>.</param>
    public static IEnumerable<SecretCheck> Check(string environment, IReadOnlyList<NamePattern> names, string envFile, bool envFileRequired,
        IDictionary processEnvironment, Action<string> log)
    {
        var file = File.Exists(envFile) || envFileRequired ? DotEnvFile.Read(envFile) : null;
        if (file is null)
            log($"There is no .env file at {envFile}; checking this process's environment only.");
        var examples = ExampleValues(envFile, log);
        var process = processEnvironment.Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal);
        var exposed = file is not null && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(envFile) & OthersCanRead) != 0;

        var selected = new List<string>();
        foreach (var pattern in names)
        {
            var matches = (file?.Keys ?? []).Concat(process.Keys).Where(pattern.IsMatch).Distinct().Order(StringComparer.Ordinal).ToList();
            if (matches.Count == 0 && pattern.Literal is { } literal)
                matches.Add(literal); // a named secret that is nowhere is the finding itself
            selected.AddRange(matches.Where(m => !selected.Contains(m)));
        }
        foreach (var name in selected)
        {
            var inProcess = process.TryGetValue(name, out var processValue);
            string fileValue = "";
            var inFile = file?.TryGetValue(name, out fileValue) == true;
            yield return Judge(environment, name, inProcess ? processValue : null, inFile ? fileValue : null, file is null ? null : envFile,
                examples, exposed);
        }
    }

    private const UnixFileMode OthersCanRead = UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static SecretCheck Judge(string environment, string name, string? processValue, string? fileValue, string? envFile,
        IReadOnlySet<string> examples, bool fileExposed)
    {
        var source = (processValue is null ? SecretSource.None : SecretSource.Process) | (fileValue is null ? SecretSource.None : SecretSource.File);
        if (source == SecretSource.None)
        {
            return new SecretCheck
            {
                Environment = environment, Name = name, Status = Status.Critical, Source = source, EnvFile = envFile,
                Message = envFile is null
                    ? "Missing: not set in this process's environment, and there is no .env file."
                    : "Missing: set neither in this process's environment nor in the .env file.",
            };
        }
        var verdicts = new List<(string Where, SecretVerdict Verdict)>();
        if (processValue is not null)
            verdicts.Add(("the process value", SecretStrength.Judge(name, processValue, examples)));
        if (fileValue is not null && fileValue != processValue)
            verdicts.Add(("the file value", SecretStrength.Judge(name, fileValue, examples)));
        var weakest = verdicts.OrderByDescending(v => v.Verdict.Status).ThenBy(v => v.Verdict.EntropyBits).First().Verdict;

        var findings = verdicts.SelectMany(v => v.Verdict.Findings.Select(f => verdicts.Count > 1 ? $"{v.Where} {f}" : $"it {f}")).ToList();
        var status = weakest.Status;
        bool? matches = source == SecretSource.Both ? processValue == fileValue : null;
        if (matches == false)
        {
            findings.Add("the process value differs from the .env file's: the file changed after this process (or the service) started, so a restart was missed");
            status = (Status)Math.Max((int)status, (int)Status.Warning);
        }
        if (fileExposed && fileValue is not null)
        {
            findings.Add("the .env file is readable by other users (chmod 600 it)");
            status = (Status)Math.Max((int)status, (int)Status.Warning);
        }
        var where = source switch { SecretSource.Both => "process and .env file", SecretSource.Process => "process only", _ => ".env file only" };
        return new SecretCheck
        {
            Environment = environment, Name = name, Status = status, Source = source, EnvFile = envFile, Length = weakest.Length,
            CharacterClasses = weakest.CharacterClasses, EntropyBits = weakest.EntropyBits, IsPlaceholder = verdicts.Any(v => v.Verdict.IsPlaceholder),
            MatchesFile = matches,
            Message = findings.Count == 0
                ? $"Strong ({weakest.EntropyBits:0} bits); set in {where}{(matches == true ? ", the same in both" : "")}."
                : Capitalize(string.Join("; ", findings)) + ".",
        };
    }

    /// <summary>The values of the .env.example beside the .env file: placeholders, never secrets.</summary>
    private static HashSet<string> ExampleValues(string envFile, Action<string> log)
    {
        var example = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(envFile))!, ExampleFileName);
        var values = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(example))
            return values;
        try
        {
            var file = DotEnvFile.Read(example);
            foreach (var key in file.Keys)
            {
                if (file.TryGetValue(key, out var value) && value.Length > 0)
                    values.Add(value);
            }
        }
        catch (PuoException ex)
        {
            log($"{example} could not be read, so its example values are not checked: {ex.Message}");
        }
        return values;
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
