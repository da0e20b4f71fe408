using System.Management.Automation;
using System.Security;
using PuoOps.Engine;
using PuoOps.Engine.Secrets;

namespace PuoOps.Commands.Security;

/// <summary>
/// Gives API_KEY (and with -All JWT_SECRET) new random values in the stack's .env file: one backup and one atomic
/// rewrite per file, however many keys or piped records. Writes which keys changed, never their values.
/// </summary>
[Cmdlet(VerbsCommon.Reset, "PuoApiKey", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(SecretRotation))]
public sealed class ResetPuoApiKeyCommand : EnvFileCommandBase
{
    private readonly Dictionary<string, (PuoEnvironment Environment, List<NamePattern> Patterns)> _files = new(StringComparer.Ordinal);

    /// <summary>The keys to rotate (wildcards match the file's keys); binds Name from Test-PuoSecretEnvironment's records.</summary>
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[] Name { get; set; } = [ApiKeyRotationService.ApiKey];

    /// <summary>Rotate API_KEY and JWT_SECRET (the runbook's --rotate-all-keys): every user and client is logged out.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>Characters in each new value.</summary>
    [Parameter]
    [ValidateRange(32, 1024)]
    public int Length { get; set; } = ApiKeyRotationService.DefaultLength;

    /// <summary>Draw from punctuation too, not only letters and digits.</summary>
    [Parameter]
    public SwitchParameter IncludeSymbols { get; set; }

    /// <summary>Put each new value in the record's NewValue, as a SecureString.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void Process()
    {
        var path = EnvFilePath;
        if (!_files.TryGetValue(path, out var request))
            _files[path] = request = (CurrentEnvironment, []);
        var names = All ? Name.Append(ApiKeyRotationService.ApiKey).Append(ApiKeyRotationService.JwtSecret) : Name;
        request.Patterns.AddRange(names.Select(NamePattern.Parse));
    }

    protected override void End() => ForEachItem(_files, pair => Rotate(pair.Key, pair.Value.Environment, pair.Value.Patterns));

    private void Rotate(string path, PuoEnvironment environment, List<NamePattern> patterns)
    {
        var file = DotEnvFile.Read(path);
        var keys = new List<string>();
        foreach (var pattern in patterns)
        {
            var matches = file.Keys.Where(pattern.IsMatch).ToList();
            if (matches.Count == 0 && pattern.Literal is { } literal)
                WriteItemError(new PuoException(ErrorKind.NotFound, "PuoOps.Secrets.KeyNotFound",
                    $"{literal} is not assigned in {path}; nothing to rotate. Add it to the file first, or check -Name and -EnvFile.", literal));
            keys.AddRange(matches.Where(m => !keys.Contains(m)));
        }
        var confirmed = keys.Where(key => ShouldProcess($"{key} in {path}", Consequence(key))).ToList();
        if (confirmed.Count == 0)
            return;
        var values = confirmed.ToDictionary(key => key, _ => ApiKeyRotationService.NewValue(Length, IncludeSymbols), StringComparer.Ordinal);
        var time = DateTimeOffset.Now;
        var backup = ApiKeyRotationService.Apply(file, values, time);
        var project = ApiKeyRotationService.ComposeProject(file, environment.ComposeProject);
        foreach (var key in confirmed)
        {
            if (file.CountOf(key) > 1)
                WriteWarning($"{key} is assigned {file.CountOf(key)} times in {path}; every one got the new value.");
            if (System.Environment.GetEnvironmentVariable(key) is not null)
                WriteWarning($"{key} is also set in this session's environment, and docker compose prefers that over the .env file: " +
                    $"remove it (Remove-Item env:{key}) before restarting services from this session.");
            WriteObject(new SecretRotation
            {
                Environment = environment.Name, Name = key, EnvFile = path, BackupPath = backup, Project = project, Time = time,
                Length = Length, NewValue = PassThru ? Secure(values[key]) : null,
                Message = key == ApiKeyRotationService.JwtSecret
                    ? "Rotated: tokens signed with the old secret are invalid; restart api and mcp, then everyone signs in again."
                    : "Rotated: restart api and mcp, and give clients the new key (Update-PuoClientConfig).",
            });
        }
    }

    private static string Consequence(string key) => key == ApiKeyRotationService.JwtSecret
        ? "Rotate JWT_SECRET: every token signed with the old secret stops working, so EVERY user and client is logged out"
        : $"Rotate {key}: clients using the old key get 401 until they have the new one (Update-PuoClientConfig) and api and mcp restart";

    private static SecureString Secure(string value)
    {
        var secure = new SecureString();
        foreach (var c in value)
            secure.AppendChar(c);
        secure.MakeReadOnly();
        return secure;
    }
}
