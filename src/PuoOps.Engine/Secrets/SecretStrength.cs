namespace PuoOps.Engine.Secrets;

/// <summary>One value's strength: the measures and what is wrong with it, worded without any part of the value.</summary>
public sealed record SecretVerdict(Status Status, long Length, int CharacterClasses, double EntropyBits, bool IsPlaceholder, IReadOnlyList<string> Findings);

/// <summary>
/// Judges a secret: not empty, not a placeholder (a well-known one, or a value of the .env.example beside the file),
/// long enough, more than one character class, and enough estimated entropy. The estimate is zxcvbn's: it charges
/// dictionary words, keyboard walks, sequences and repeats at what guessing them costs, and a random string at its
/// length times log2 of its alphabet.
/// </summary>
public static class SecretStrength
{
    public const int CriticalLength = 16;
    public const double CriticalBits = 64;
    public const double WarningBits = 100;

    /// <summary>RFC 7518 §3.2: an HS256 key must be at least as long as the hash, 32 bytes.</summary>
    public const int JwtMinimumBytes = 32;

    /// <summary>zxcvbn's matching grows faster than linearly with length (seconds at 1,000 characters); the first 100 say enough.</summary>
    private const int EstimatedPrefix = 100;

    private static readonly HashSet<string> Placeholders = new(StringComparer.Ordinal)
    {
        "secret", "password", "passwd", "changeme", "changeit", "apikey", "jwtsecret", "secretkey", "token", "test", "testing",
        "example", "default", "dummy", "placeholder", "todo", "tbd", "none", "null", "empty", "admin", "letmein", "mysecret",
        "supersecret", "supersecretkey", "yourapikey", "yoursecret", "yoursecretkey", "yourjwtsecret", "yourtoken",
    };

    // Words that mark a value as one to be replaced, wherever they stand in it ("your-api-key-here", "changeme123").
    private static readonly string[] PlaceholderMarkers =
    [
        "changeme", "changethis", "replaceme", "replacewith", "yourapikey", "yoursecret", "yourkey", "yourtoken", "placeholder",
        "example", "insecure", "notasecret", "dummy", "fillme", "setme", "xxxxxx",
    ];

    public static SecretVerdict Judge(string name, string value, IReadOnlySet<string> exampleValues)
    {
        var findings = new List<string>();
        var status = Status.OK;
        void Find(Status level, string finding)
        {
            findings.Add(finding);
            status = (Status)Math.Max((int)status, (int)level);
        }

        if (value.Length == 0)
        {
            Find(Status.Critical, "is empty");
            return new SecretVerdict(status, 0, 0, 0, false, findings);
        }
        var isExample = exampleValues.Contains(value);
        var isPlaceholder = isExample || IsKnownPlaceholder(value);
        if (isExample)
            Find(Status.Critical, "is a value of the .env.example beside the file");
        else if (isPlaceholder)
            Find(Status.Critical, "is a known placeholder");
        if (value.Length < CriticalLength)
            Find(Status.Critical, $"is {value.Length} characters long (at least {CriticalLength})");
        var classes = CharacterClasses(value);
        if (classes < 2)
            Find(Status.Warning, "uses one character class only");
        var bits = Math.Round(Zxcvbn.Zxcvbn.MatchPassword(value.Length > EstimatedPrefix ? value[..EstimatedPrefix] : value).Entropy, 1);
        if (bits < CriticalBits)
            Find(Status.Critical, $"has about {bits:0} bits of entropy (below {CriticalBits:0} is guessable)");
        else if (bits < WarningBits)
            Find(Status.Warning, $"has about {bits:0} bits of entropy (at least {WarningBits:0} advised)");
        var bytes = System.Text.Encoding.UTF8.GetByteCount(value);
        if (name.Contains("JWT", StringComparison.OrdinalIgnoreCase) && bytes < JwtMinimumBytes)
            Find(Status.Warning, $"is {bytes} bytes; an HS256 key needs at least {JwtMinimumBytes} (RFC 7518)");
        return new SecretVerdict(status, value.Length, classes, bits, isPlaceholder, findings);
    }

    /// <summary>Lower case, upper case, digits, anything else: how many of the four occur.</summary>
    public static int CharacterClasses(string value) =>
        (value.Any(char.IsLower) ? 1 : 0) + (value.Any(char.IsUpper) ? 1 : 0) + (value.Any(char.IsDigit) ? 1 : 0)
        + (value.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0);

    private static bool IsKnownPlaceholder(string value)
    {
        var trimmed = value.Trim();
        if (trimmed.StartsWith('<') && trimmed.EndsWith('>'))
            return true; // <your-api-key>
        var letters = new string(value.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).ToArray());
        return letters.Length == 0 || letters.Distinct().Count() == 1 // ********, xxxxxxxx, 00000000
            || Placeholders.Contains(letters) || PlaceholderMarkers.Any(m => letters.Contains(m, StringComparison.Ordinal));
    }
}
