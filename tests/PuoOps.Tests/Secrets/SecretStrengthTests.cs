using System.Collections;
using PuoOps.Engine;
using PuoOps.Engine.Secrets;

namespace PuoOps.Tests.Secrets;

public sealed class SecretStrengthTests : IDisposable
{
    private static readonly HashSet<string> NoExamples = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("puo-secrets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("changeme")]
    [InlineData("your-api-key-here-please-change")]
    [InlineData("<your-jwt-secret>")]
    [InlineData("CHANGE_ME_TO_SOMETHING_RANDOM_123")]
    [InlineData("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")]
    [InlineData("secret")]
    public void Placeholders_are_critical(string value)
    {
        var verdict = SecretStrength.Judge("API_KEY", value, NoExamples);
        Assert.True(verdict.IsPlaceholder);
        Assert.Equal(Status.Critical, verdict.Status);
        Assert.DoesNotContain(verdict.Findings, f => f.Contains(value, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void A_value_of_the_example_file_is_a_placeholder_however_random_it_looks()
    {
        var verdict = SecretStrength.Judge("API_KEY", "k2P9vXq7LmN4tR8wZs3YbC6d", new HashSet<string> { "k2P9vXq7LmN4tR8wZs3YbC6d" });
        Assert.True(verdict.IsPlaceholder);
        Assert.Equal(Status.Critical, verdict.Status);
        Assert.Contains(verdict.Findings, f => f.Contains(".env.example"));
    }

    [Theory]
    [InlineData("MyCompanyApiKey2024!", Status.Critical)]   // four classes, twenty characters, but words and a year: about 52 bits
    [InlineData("short1A", Status.Critical)]
    [InlineData("abcdefghijklmnopqrstuvwxyzabcdefghijklmn", Status.Critical)]
    [InlineData("9817263548172635491827364518273645", Status.Critical)] // digits that repeat "8172635": zxcvbn sees it
    public void Weak_values_are_found(string value, Status expected)
    {
        Assert.Equal(expected, SecretStrength.Judge("API_KEY", value, NoExamples).Status);
    }

    [Fact]
    public void Random_digits_alone_are_a_warning_for_their_single_character_class()
    {
        var digits = string.Concat(Enumerable.Range(0, 40).Select(_ => System.Security.Cryptography.RandomNumberGenerator.GetInt32(10)));
        var verdict = SecretStrength.Judge("API_KEY", digits, NoExamples);
        Assert.Equal(Status.Warning, verdict.Status);
        Assert.Equal(1, verdict.CharacterClasses);
    }

    [Fact]
    public void Generated_values_are_strong()
    {
        for (var i = 0; i < 20; i++)
        {
            var verdict = SecretStrength.Judge("JWT_SECRET", ApiKeyRotationService.NewValue(64, includeSymbols: i % 2 == 0), NoExamples);
            Assert.Equal(Status.OK, verdict.Status);
            Assert.True(verdict.EntropyBits > 256, $"a 64-character random value scored {verdict.EntropyBits} bits");
        }
    }

    [Fact]
    public void A_short_jwt_secret_is_a_warning_by_RFC_7518()
    {
        var value = ApiKeyRotationService.NewValue(24, includeSymbols: false);
        Assert.Equal(Status.OK, SecretStrength.Judge("API_KEY", value, NoExamples).Status);
        var jwt = SecretStrength.Judge("JWT_SECRET", value, NoExamples);
        Assert.Equal(Status.Warning, jwt.Status);
        Assert.Contains(jwt.Findings, f => f.Contains("RFC 7518"));
    }

    [Fact]
    public void New_values_use_the_whole_alphabet_evenly()
    {
        var counts = ApiKeyRotationService.NewValue(62 * 2000, includeSymbols: false).GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(62, counts.Count);
        // 2000 expected per character; a biased generator (e.g. byte % 62) is off by far more than 5 standard deviations (~220).
        Assert.All(counts.Values, n => Assert.InRange(n, 2000 - 300, 2000 + 300));
        Assert.Contains('$', ApiKeyRotationService.NewValue(2000, includeSymbols: true));
    }

    [Fact]
    public void The_check_reports_source_mismatch_exposure_and_missing_secrets_without_values()
    {
        var env = Path.Combine(_dir, ".env");
        var strong = ApiKeyRotationService.NewValue(48, false);
        var other = ApiKeyRotationService.NewValue(48, false);
        File.WriteAllText(env, $"API_KEY={strong}\nJWT_SECRET=changeme\nREDIS_PASSWORD={other}\n");
        File.WriteAllText(Path.Combine(_dir, ".env.example"), "API_KEY=\nJWT_SECRET=changeme\n");
        File.SetUnixFileMode(env, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        var process = new Hashtable { ["API_KEY"] = other, ["ONLY_HERE_TOKEN"] = strong };
        var checks = SecretEnvironmentService.Check("t", new[] { "JWT_SECRET", "API_KEY", "*TOKEN", "MISSING_KEY" }.Select(NamePattern.Parse).ToList(), env, false, process, _ => { })
            .ToDictionary(c => c.Name);

        Assert.Equal(["JWT_SECRET", "API_KEY", "ONLY_HERE_TOKEN", "MISSING_KEY"], checks.Keys);
        Assert.Equal((Status.Critical, SecretSource.File, true), (checks["JWT_SECRET"].Status, checks["JWT_SECRET"].Source, checks["JWT_SECRET"].IsPlaceholder));
        var api = checks["API_KEY"];
        Assert.Equal((Status.Warning, SecretSource.Both, (bool?)false), (api.Status, api.Source, api.MatchesFile));
        Assert.Contains("restart was missed", api.Message);
        Assert.Contains("readable by other users", api.Message);
        Assert.Equal((Status.OK, SecretSource.Process), (checks["ONLY_HERE_TOKEN"].Status, checks["ONLY_HERE_TOKEN"].Source));
        Assert.Equal((Status.Critical, SecretSource.None), (checks["MISSING_KEY"].Status, checks["MISSING_KEY"].Source));
        var text = string.Join("\n", checks.Values.Select(c => $"{c.Message} {c}"));
        foreach (var secret in new[] { strong, other })
            Assert.DoesNotContain(secret[..6], text);
    }

    [Fact]
    public void A_named_env_file_that_is_missing_is_an_error_and_an_unnamed_one_is_not()
    {
        var missing = Path.Combine(_dir, "nope", ".env");
        var error = Assert.Throws<PuoException>(() => SecretEnvironmentService.Check("t", [NamePattern.Parse("API_KEY")], missing, true, new Hashtable(), _ => { }).ToList());
        Assert.Equal(ErrorKind.NotFound, error.Kind);
        var check = Assert.Single(SecretEnvironmentService.Check("t", [NamePattern.Parse("API_KEY")], missing, false, new Hashtable(), _ => { }));
        Assert.Equal((Status.Critical, SecretSource.None, (string?)null), (check.Status, check.Source, check.EnvFile));
    }
}
