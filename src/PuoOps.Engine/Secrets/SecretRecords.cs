using System.Security;

namespace PuoOps;

/// <summary>Where a secret was found: the process environment, the .env file, both, or neither.</summary>
[Flags]
public enum SecretSource
{
    None = 0,
    Process = 1,
    File = 2,
    Both = Process | File,
}

/// <summary>Test-PuoSecretEnvironment: one secret's presence and strength. Carries no part of the value.</summary>
public sealed class SecretCheck
{
    public string Environment { get; init; } = "";
    public string Name { get; init; } = "";
    public Status Status { get; init; }
    public SecretSource Source { get; init; }
    /// <summary>The .env file read, or null when there was none.</summary>
    public string? EnvFile { get; init; }
    /// <summary>Characters; when both sources hold a value, that of the weaker one.</summary>
    public long Length { get; init; }
    /// <summary>How many of lower case, upper case, digits and other characters it uses (0 to 4).</summary>
    public int CharacterClasses { get; init; }
    /// <summary>zxcvbn's estimate of the guessing work, in bits; a random value scores about its length times log2 of its alphabet.</summary>
    public double EntropyBits { get; init; }
    /// <summary>A known placeholder (changeme, your-api-key, ...) or a value of the .env.example beside the file.</summary>
    public bool IsPlaceholder { get; init; }
    /// <summary>Whether the process value equals the file's; null unless both hold one. False means a restart was missed.</summary>
    public bool? MatchesFile { get; init; }
    public string Message { get; init; } = "";

    public override string ToString() => $"{Name}: {Status}";
}

/// <summary>Reset-PuoApiKey: one key given a new random value. Its value is only in <see cref="NewValue"/>, with -PassThru.</summary>
public sealed class SecretRotation
{
    /// <summary>The environment's name, so the record pipes into Restart-PuoService on the same environment.</summary>
    public string Environment { get; init; } = "";
    public string Name { get; init; } = "";
    public string EnvFile { get; init; } = "";
    /// <summary>The owner-only copy of the file as it was, beside it.</summary>
    public string? BackupPath { get; init; }
    /// <summary>The compose project that reads the file (its COMPOSE_PROJECT_NAME, else the environment's), for Restart-PuoService.</summary>
    public string Project { get; init; } = "";
    public DateTimeOffset Time { get; init; }
    public long Length { get; init; }
    /// <summary>The new value, only with -PassThru.</summary>
    public SecureString? NewValue { get; init; }
    public string Message { get; init; } = "";

    public override string ToString() => Name;
}

/// <summary>An MCP client whose config file Update-PuoClientConfig knows.</summary>
public enum McpClient
{
    ClaudeDesktop,
    Cursor,
}

/// <summary>Update-PuoClientConfig: what changed in one client's config file. Secrets appear masked.</summary>
public sealed class ClientConfigChange
{
    public McpClient Client { get; init; }
    public string Path { get; init; } = "";
    public string ServerName { get; init; } = "";
    /// <summary>Added, Updated or Unchanged.</summary>
    public string Action { get; init; } = "";
    /// <summary>Each change as "field: new (was old)", the key shown as ********.</summary>
    public string[] Changes { get; init; } = [];
    public string? BackupPath { get; init; }
    /// <summary>True when a running client keeps the old entry until it is restarted.</summary>
    public bool RestartRequired { get; init; }
    public string Message { get; init; } = "";

    public override string ToString() => $"{Client} {Path}";
}
