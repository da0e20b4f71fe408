#Requires -Version 7.4
<#
.SYNOPSIS
    Starts, seeds, inspects and stops the local PuoOps sandbox stack
    (PostgreSQL, Redis, Docker Engine, nginx) on free 127.0.0.1 ports.

.DESCRIPTION
    Every service runs from one private temp root (/tmp/puo-sandbox-XXXXXX), in its own
    subfolder, on ports or sockets nobody else uses, so several sandboxes can run side by side.
    Connection details (including the generated passwords) go to a JSON state file that tests
    read; nothing printed by this script contains a password.

.PARAMETER Action
    Install  apt-get install what the selected services (and the scripts and tests, chromium among them) need (root only).
    Start    Stop any sandbox named by the state file, then start and seed a new one.
    Stop     Stop everything the state file names, unmount, delete the root and the state file.
    Status   Print the state (no passwords) and whether each process is alive; exit 1 if not running.

.PARAMETER StateFile
    Where the state JSON lives. Default: $env:PUO_SANDBOX_STATE, else <repo>/out/sandbox/state.json.

.PARAMETER Services
    Which services to start. Default: all four. The api and mcp stand-ins (tests/StandIn: /health, /metrics,
    and POST /_standin to make them unhealthy, slow, stalling or hung) come with Nginx.

.PARAMETER MemoryRows
    How many rows to seed into puo_memo.memories (default 200000).

.EXAMPLE
    dotnet pwsh -NoProfile -File tests/Sandbox/Sandbox.ps1 -Action Start

.EXAMPLE
    dotnet pwsh -NoProfile -File tests/Sandbox/Sandbox.ps1 -Action Start -StateFile /tmp/mine.json -Services Postgres,Redis -MemoryRows 10000
#>
[CmdletBinding()]
param(
    [ValidateSet('Install', 'Start', 'Stop', 'Status')]
    [string] $Action,

    [string] $StateFile,

    # Accepts -Services Postgres,Redis from pwsh -File too (it arrives as one string there).
    [string[]] $Services = @('Postgres', 'Redis', 'Docker', 'Nginx'),

    [ValidateRange(0, 100000000)]
    [int] $MemoryRows = 200000
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
if ([Console]::IsErrorRedirected -or [Console]::IsOutputRedirected) { $PSStyle.OutputRendering = 'PlainText' }

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
$script:IsRoot = ((& id -u) -eq '0')
$script:CurrentUser = (& id -un)
$script:RootPattern = '^/.+/puo-sandbox-[A-Za-z0-9]{6,}$'

#region helpers ------------------------------------------------------------------------------

function Write-Step([string] $Message) {
    Write-Host "[sandbox] $Message"
}

function Invoke-Tool {
    <# Runs a program without a shell, captures stdout/stderr, throws on a non-zero exit.
       Arguments go through ArgumentList (no quoting issues); secrets travel via -Environment
       or -InputText, never via the command line. #>
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [hashtable] $Environment,
        [string] $InputText,
        [string] $WorkingDirectory,
        [string] $AsUser,
        [int] $TimeoutSec = 300,
        [switch] $AllowFailure
    )
    if ($AsUser -and $AsUser -ne $script:CurrentUser) {
        $ArgumentList = @('-u', $AsUser, '--', $FilePath) + $ArgumentList
        $FilePath = 'runuser'
    }
    $psi = [System.Diagnostics.ProcessStartInfo]::new($FilePath)
    foreach ($a in $ArgumentList) { $psi.ArgumentList.Add([string]$a) }
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.RedirectStandardInput = $true
    if ($WorkingDirectory) { $psi.WorkingDirectory = $WorkingDirectory }
    if ($Environment) {
        foreach ($k in $Environment.Keys) {
            if ($null -eq $Environment[$k]) { $null = $psi.Environment.Remove($k) } else { $psi.Environment[$k] = [string]$Environment[$k] }
        }
    }
    $name = Split-Path -Leaf $(if ($FilePath -eq 'runuser') { $ArgumentList[3] } else { $FilePath })
    try { $p = [System.Diagnostics.Process]::Start($psi) }
    catch { throw "Cannot run '$name': $($_.Exception.Message)" }
    try {
        $outTask = $p.StandardOutput.ReadToEndAsync()
        $errTask = $p.StandardError.ReadToEndAsync()
        if ($InputText) { $p.StandardInput.Write($InputText) }
        $p.StandardInput.Close()
        if (-not $p.WaitForExit($TimeoutSec * 1000)) {
            try { $p.Kill($true) } catch { }
            throw "'$name' did not finish within $TimeoutSec s."
        }
        $p.WaitForExit()
        $result = [pscustomobject]@{
            ExitCode = $p.ExitCode
            StdOut   = $outTask.GetAwaiter().GetResult()
            StdErr   = $errTask.GetAwaiter().GetResult()
        }
    }
    finally { $p.Dispose() }
    if ($result.ExitCode -ne 0 -and -not $AllowFailure) {
        $msg = ($result.StdErr.Trim(), $result.StdOut.Trim() | Where-Object { $_ }) -join "`n"
        throw "'$name $(($ArgumentList | Select-Object -Skip $(if ($FilePath -eq 'runuser') { 4 } else { 0 })) -join ' ')' failed (exit $($result.ExitCode)): $msg"
    }
    $result
}

function Invoke-Detached {
    <# Runs a command that daemonizes itself (pg_ctl, redis-server, nginx) with its stdio sent
       to a log file, so the daemon never inherits (and keeps open) our pipes. #>
    param([string] $LogFile, [string] $FilePath, [string[]] $ArgumentList = @(), [string] $WorkingDirectory,
        [string] $AsUser, [int] $TimeoutSec = 120, [switch] $AllowFailure)
    $sh = @('-c', 'log=$1; shift; exec "$@" </dev/null >>"$log" 2>&1', 'sh', $LogFile, $FilePath) + $ArgumentList
    Invoke-Tool -FilePath '/bin/sh' -ArgumentList $sh -WorkingDirectory $WorkingDirectory -AsUser $AsUser `
        -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure
}

function Start-Background {
    <# Starts a long-running foreground program (dockerd) in its own session, output to a log
       file; returns its pid. #>
    param([string] $LogFile, [string] $FilePath, [string[]] $ArgumentList = @(), [string] $WorkingDirectory)
    $sh = @('-c', 'log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!', 'sh', $LogFile, $FilePath) + $ArgumentList
    [int](Invoke-Tool -FilePath '/bin/sh' -ArgumentList $sh -WorkingDirectory $WorkingDirectory).StdOut.Trim()
}

function Get-LogTail([string] $Path, [int] $Lines = 15) {
    if ($Path -and (Test-Path -LiteralPath $Path)) {
        ((Get-Content -LiteralPath $Path -Tail $Lines -ErrorAction SilentlyContinue) -join "`n")
    }
    else { "(no log at $Path)" }
}

function Get-FreePort([int] $Count = 1) {
    # Hold every listener until all are chosen so one call never returns the same port twice.
    $listeners = for ($i = 0; $i -lt $Count; $i++) {
        $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $l.Start(); $l
    }
    try { foreach ($l in $listeners) { ([System.Net.IPEndPoint]$l.LocalEndpoint).Port } }
    finally { foreach ($l in $listeners) { $l.Stop() } }
}

function New-Secret([int] $Length = 32) {
    [System.Security.Cryptography.RandomNumberGenerator]::GetString(
        [char[]]'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789', $Length)
}

function New-ScramVerifier([string] $Password) {
    # The role's password is sent to PostgreSQL already hashed (as psql's \password does),
    # so the clear text never reaches the server, its logs or pg_stat_statements.
    $salt = [byte[]]::new(16)
    [System.Security.Cryptography.RandomNumberGenerator]::Fill($salt)
    $iterations = 4096
    $salted = [System.Security.Cryptography.Rfc2898DeriveBytes]::Pbkdf2(
        [Text.Encoding]::UTF8.GetBytes($Password), $salt, $iterations,
        [System.Security.Cryptography.HashAlgorithmName]::SHA256, 32)
    $clientKey = [System.Security.Cryptography.HMACSHA256]::HashData($salted, [Text.Encoding]::ASCII.GetBytes('Client Key'))
    $storedKey = [System.Security.Cryptography.SHA256]::HashData($clientKey)
    $serverKey = [System.Security.Cryptography.HMACSHA256]::HashData($salted, [Text.Encoding]::ASCII.GetBytes('Server Key'))
    'SCRAM-SHA-256${0}:{1}${2}:{3}' -f $iterations, [Convert]::ToBase64String($salt),
    [Convert]::ToBase64String($storedKey), [Convert]::ToBase64String($serverKey)
}

function Test-PidAlive([object] $ProcessId) {
    if (-not $ProcessId -or [int]$ProcessId -le 0) { return $false }
    $stat = "/proc/$ProcessId/stat"
    if (-not (Test-Path -LiteralPath $stat)) { return $false }
    try {
        $text = [IO.File]::ReadAllText($stat)
        $state = $text.Substring($text.LastIndexOf(')') + 2, 1)
        return $state -ne 'Z' -and $state -ne 'X'
    }
    catch { return $false }
}

function Get-ProcInfo([int] $ProcessId) {
    # cmdline and cwd of a process ('' when unreadable), used to prove a pid is ours.
    $cmd = ''; $cwd = ''
    try { $cmd = [IO.File]::ReadAllText("/proc/$ProcessId/cmdline").Replace([char]0, ' ') } catch { }
    try { $cwd = [string](Get-Item -LiteralPath "/proc/$ProcessId/cwd" -Force -ErrorAction Stop).LinkTarget } catch { }
    [pscustomobject]@{ Cmd = $cmd; Cwd = $cwd }
}

function Test-OwnedPid([object] $ProcessId, [string] $Root) {
    # Guards against pid reuse: a pid is only ours if its command line or working directory
    # lies inside the sandbox root (every service is started with its cwd there).
    if (-not (Test-PidAlive $ProcessId)) { return $false }
    $i = Get-ProcInfo $ProcessId
    return ($i.Cmd.Contains("$Root/") -or $i.Cwd -eq $Root -or $i.Cwd.StartsWith("$Root/"))
}

function Send-Signal([int] $ProcessId, [string] $Signal = 'TERM') {
    $null = Invoke-Tool -FilePath '/bin/kill' -ArgumentList @("-$Signal", "$ProcessId") -AllowFailure
}

function Wait-PidExit([int[]] $ProcessIds, [double] $TimeoutSec = 20) {
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (-not ($ProcessIds | Where-Object { Test-PidAlive $_ })) { return $true }
        Start-Sleep -Milliseconds 100
    }
    return -not ($ProcessIds | Where-Object { Test-PidAlive $_ })
}

function Stop-Pid([int[]] $ProcessIds, [double] $TimeoutSec = 15) {
    $alive = @($ProcessIds | Where-Object { Test-PidAlive $_ })
    if (-not $alive) { return }
    foreach ($p in $alive) { Send-Signal $p 'TERM' }
    if (-not (Wait-PidExit $alive $TimeoutSec)) {
        foreach ($p in $alive) { if (Test-PidAlive $p) { Send-Signal $p 'KILL' } }
        $null = Wait-PidExit $alive 5
    }
}

function Get-ProcessTable {
    # pid -> ppid for every process, from /proc.
    $table = @{}
    foreach ($d in [IO.Directory]::EnumerateDirectories('/proc')) {
        $leaf = [IO.Path]::GetFileName($d)
        if ($leaf -notmatch '^\d+$') { continue }
        try {
            $t = [IO.File]::ReadAllText("$d/stat")
            $rest = $t.Substring($t.LastIndexOf(')') + 2).Split(' ')
            $table[[int]$leaf] = [int]$rest[1]
        }
        catch { }
    }
    $table
}

function Get-Descendant([int[]] $ProcessIds, [hashtable] $Table) {
    $result = [System.Collections.Generic.HashSet[int]]::new()
    $queue = [System.Collections.Generic.Queue[int]]::new()
    foreach ($p in $ProcessIds) { $queue.Enqueue($p) }
    while ($queue.Count) {
        $cur = $queue.Dequeue()
        foreach ($kv in $Table.GetEnumerator()) {
            if ($kv.Value -eq $cur -and $result.Add($kv.Key)) { $queue.Enqueue($kv.Key) }
        }
    }
    @($result)
}

function Get-MountUnder([string] $Root) {
    # Mount points at or below $Root, deepest first (mountinfo escapes spaces as \040).
    $points = foreach ($line in [IO.File]::ReadAllLines('/proc/self/mountinfo')) {
        $mp = [regex]::Replace($line.Split(' ')[4], '\\([0-7]{3})', { param($m) [string][char][Convert]::ToInt32($m.Groups[1].Value, 8) })
        if ($mp -eq $Root -or $mp.StartsWith("$Root/")) { $mp }
    }
    @($points | Sort-Object -Unique | Sort-Object { $_.Length } -Descending)
}

function Get-PgBinDir {
    $dirs = Get-ChildItem -Directory -Path '/usr/lib/postgresql' -ErrorAction SilentlyContinue |
        Where-Object { $_.Name -match '^\d+$' -and (Test-Path (Join-Path $_.FullName 'bin/initdb')) } |
        Sort-Object { [int]$_.Name } -Descending
    if (-not $dirs) { return $null }
    Join-Path @($dirs)[0].FullName 'bin'
}

function Read-State([string] $Path) {
    if (-not (Test-Path -LiteralPath $Path)) { return $null }
    $text = [IO.File]::ReadAllText($Path)
    if (-not $text.Trim()) { return $null }
    ConvertFrom-Json -InputObject $text -AsHashtable
}

function Save-State([System.Collections.IDictionary] $State, [string] $Path) {
    # Atomic write (temp + rename), readable by the owner only from the first byte: it holds the passwords.
    # The temp file has an unpredictable name and is created exclusively, so nothing planted under a name
    # (a symlink to another file) is written through.
    $dir = Split-Path -Parent $Path
    if (-not (Test-Path -LiteralPath $dir)) { $null = [IO.Directory]::CreateDirectory($dir, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute') }
    # Inside the repo (default out/sandbox/), keep the password-bearing file out of git, the
    # way .pytest_cache does it: a self-ignoring .gitignore in the folder.
    $ignore = Join-Path $dir '.gitignore'
    if ($dir.StartsWith("$script:RepoRoot/") -and -not (Test-Path -LiteralPath $ignore)) {
        [IO.File]::WriteAllText($ignore, "# written by tests/Sandbox/Sandbox.ps1: sandbox state holds passwords`n*`n")
    }
    $tmp = "$Path.$([guid]::NewGuid().ToString('N')).tmp"
    $options = [IO.FileStreamOptions]@{ Mode = 'CreateNew'; Access = 'Write'; Share = 'None'; UnixCreateMode = [IO.UnixFileMode]'UserRead, UserWrite' }
    try {
        $writer = [IO.StreamWriter]::new($tmp, [Text.UTF8Encoding]::new($false), $options)
        try { $writer.Write((ConvertTo-Json -InputObject $State -Depth 6)) } finally { $writer.Dispose() }
        [IO.File]::Move($tmp, $Path, $true)
    }
    catch { Remove-Item -LiteralPath $tmp -Force -ErrorAction SilentlyContinue; throw }
}

function Get-Section([System.Collections.IDictionary] $State, [string] $Name) {
    if ($State -and $State.Contains($Name) -and $State[$Name] -is [System.Collections.IDictionary]) { return $State[$Name] }
    $null
}

#endregion

#region install ------------------------------------------------------------------------------

# What each service needs, and (Base) the tools this script and the tests call whatever the services: on a fresh
# Debian only Essential and Priority: required packages can be counted on (tests/Pester/Build.Tests.ps1 checks
# that every program the scripts and tests run comes from one of those or from this map).
$script:PackageMap = [ordered]@{
    Base     = @('procps', 'curl')
    Postgres = @('postgresql', 'postgresql-contrib', 'postgresql-client-common')
    Redis    = @('redis-server', 'redis-tools')
    # docker-compose: Publish-PuoDeployment -ComposeFile on an engine that is not a Swarm manager (Debian 12 has no compose plugin).
    Docker   = @('docker.io', 'busybox-static', 'docker-compose')
    # curl probes nginx; nftables, iptables and iproute2 serve the firewall tests (inside network namespaces they create).
    # busybox-static: the blue and green colours behind nginx (busybox httpd), Swarm services or, without Docker, processes.
    Nginx    = @('nginx', 'curl', 'nftables', 'iptables', 'iproute2', 'busybox-static')
    # Not a service: the headless browser the tests open Invoke-PuoDiagnostic's HTML page in. Installed when root.
    Browser  = @('chromium')
}

function Test-PackageInstalled([string] $Name) {
    $r = Invoke-Tool -FilePath 'dpkg-query' -ArgumentList @('-W', '-f=${db:Status-Status}', $Name) -AllowFailure
    $r.ExitCode -eq 0 -and $r.StdOut.Trim() -eq 'installed'
}

function Get-MissingPackage([string[]] $ForServices) {
    if (-not (Get-Command dpkg-query -ErrorAction SilentlyContinue)) {
        throw 'dpkg-query not found: this script installs with apt-get and needs Debian or Ubuntu.'
    }
    $pkgs = foreach ($s in @('Base') + $ForServices) { $script:PackageMap[$s] }
    @($pkgs | Select-Object -Unique | Where-Object { -not (Test-PackageInstalled $_) })
}

function Install-Sandbox([string[]] $ForServices) {
    $missing = Get-MissingPackage $ForServices
    if (-not $missing) { Write-Step "packages present for: $($ForServices -join ', ')"; return }
    if (-not $script:IsRoot) {
        throw "Missing packages: $($missing -join ' '). Run as root: apt-get install -y $($missing -join ' ') (or Sandbox.ps1 -Action Install as root)."
    }
    Write-Step "installing: $($missing -join ' ')"
    # Keep package scripts from starting system-wide postgres/redis/nginx on their default ports.
    $policy = '/usr/sbin/policy-rc.d'
    $ownPolicy = -not (Test-Path -LiteralPath $policy)
    if ($ownPolicy) {
        [IO.File]::WriteAllText($policy, "#!/bin/sh`n# temporary, written by tests/Sandbox/Sandbox.ps1`nexit 101`n")
        [IO.File]::SetUnixFileMode($policy, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupRead, GroupExecute, OtherRead, OtherExecute')
    }
    try {
        $env = @{ DEBIAN_FRONTEND = 'noninteractive' }
        $null = Invoke-Tool -FilePath 'apt-get' -ArgumentList @('-o', 'DPkg::Lock::Timeout=300', 'update') -Environment $env -TimeoutSec 900
        $null = Invoke-Tool -FilePath 'apt-get' -ArgumentList (@('-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends') + $missing) -Environment $env -TimeoutSec 1800
    }
    finally {
        if ($ownPolicy) { Remove-Item -LiteralPath $policy -Force -ErrorAction SilentlyContinue }
    }
    $still = Get-MissingPackage $ForServices
    if ($still) { throw "apt-get finished but these packages are still missing: $($still -join ' ')" }
}

#endregion

#region postgres -----------------------------------------------------------------------------

function Get-PostgresSeedSql([int] $Rows) {
    @"
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET ROLE puo;

CREATE TABLE memories (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL,
    content     text,
    metadata    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
    id          bigserial PRIMARY KEY,
    user_id     text,
    action      text NOT NULL,
    ip_address  inet,
    details     jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alembic_version (
    version_num varchar(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('a1b2c3d4e5f6');

INSERT INTO memories (user_id, content, metadata, created_at, updated_at)
SELECT 'user_' || (g % 500),
       'Memory ' || g || ': ' || repeat(md5(g::text) || ' ', 1 + g % 4),
       jsonb_build_object(
           'source', (ARRAY['claude', 'cursor', 'api', 'mcp'])[1 + g % 4],
           'tags', jsonb_build_array('tag' || (g % 50), 'project' || (g % 7)),
           'importance', g % 10,
           'embedding_model', 'text-embedding-3-small'),
       ts,
       ts + ((g % 1440) * interval '1 minute')
FROM (SELECT g, now() - ((g * 7919) % 525600) * interval '1 minute' AS ts
      FROM generate_series(1, $Rows) AS g) s;

INSERT INTO audit_logs (user_id, action, ip_address, details, created_at)
SELECT 'user_' || (g % 500),
       (ARRAY['auth.login', 'memory.create', 'memory.search', 'memory.update',
              'memory.delete', 'api_key.create', 'auth.logout'])[1 + g % 7],
       ('10.' || (g % 4) || '.' || (g % 250) || '.' || (1 + g % 200))::inet,
       jsonb_build_object('user_agent', 'puo-client/1.' || (g % 5), 'status', 200),
       now() - ((g * 37) % 43200) * interval '1 minute'
FROM generate_series(1, 19300) AS g;

-- The "last hour" rows lie in the last 30 minutes, so a slow suite still finds them all an hour after seeding.
-- a brute-force burst from three addresses
INSERT INTO audit_logs (user_id, action, ip_address, details, created_at)
SELECT 'user_' || (g % 20), 'auth.login_failed',
       (ARRAY['203.0.113.7', '198.51.100.23', '192.0.2.50'])[1 + g % 3]::inet,
       jsonb_build_object('reason', 'invalid_api_key', 'status', 401),
       now() - (g % 1750) * interval '1 second'
FROM generate_series(1, 450) AS g;

-- ordinary traffic: a few honest failures over half a day (four in the last 30 minutes), logins and logouts
INSERT INTO audit_logs (user_id, action, ip_address, details, created_at)
SELECT 'user_' || (g % 500), 'auth.login_failed', ('10.1.0.' || (1 + g % 200))::inet,
       jsonb_build_object('reason', 'expired_jwt', 'status', 401),
       now() - (g * 17 % 1440) * interval '25 seconds'
FROM generate_series(1, 50) AS g;
INSERT INTO audit_logs (user_id, action, ip_address, details, created_at)
SELECT 'user_' || (g % 500), (ARRAY['auth.login', 'auth.logout'])[1 + (g % 10 = 0)::int], ('10.2.0.' || (1 + g % 200))::inet,
       jsonb_build_object('status', 200),
       now() - (g % 1750) * interval '1 second'
FROM generate_series(1, 200) AS g;

CREATE INDEX idx_memories_user_id ON memories (user_id);
CREATE INDEX idx_memories_created_at ON memories (created_at);
CREATE INDEX idx_memories_metadata ON memories USING gin (metadata);
CREATE INDEX idx_memories_updated_user ON memories (updated_at, user_id);  -- nothing uses this one
CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at);

RESET ROLE;
VACUUM ANALYZE;

-- exercise the indexes the application uses, so only idx_memories_updated_user shows idx_scan = 0
SET enable_seqscan = off;
SELECT count(*) FROM memories WHERE user_id = 'user_42';
SELECT count(*) FROM memories WHERE created_at > now() - interval '1 hour';
SELECT count(*) FROM memories WHERE metadata @> '{"tags": ["tag7"]}';
SELECT count(*) FROM audit_logs WHERE created_at > now() - interval '1 hour';
RESET enable_seqscan;
"@
}

function Start-SandboxPostgres([System.Collections.IDictionary] $State, [string] $StatePath) {
    $root = $State.Root
    $bin = Get-PgBinDir
    if (-not $bin) { throw 'PostgreSQL server binaries not found under /usr/lib/postgresql/<major>/bin (package postgresql).' }
    $osUser = if ($script:IsRoot) { 'postgres' } else { $script:CurrentUser }
    if ($script:IsRoot) {
        if ((Invoke-Tool -FilePath 'id' -ArgumentList @('-u', 'postgres') -AllowFailure).ExitCode -ne 0) {
            throw "Running as root, but the 'postgres' system user does not exist (package postgresql creates it)."
        }
    }
    $pgDir = Join-Path $root 'postgres'
    $dataDir = Join-Path $pgDir 'data'
    $log = Join-Path $pgDir 'postgres.log'
    $null = New-Item -ItemType Directory -Path $pgDir -Force
    if ($script:IsRoot) { $null = Invoke-Tool -FilePath 'chown' -ArgumentList @('-R', "postgres:", $pgDir) }

    $password = New-Secret 32
    # The on-call operator's role: pg_monitor and pg_signal_backend only (not superuser, owns nothing), so the suite
    # exercises what the module does when the server says no.
    $monitor = [ordered]@{ User = 'puo_monitor'; Password = (New-Secret 32); Url = $null; ConnectionString = $null }
    $pg = [ordered]@{
        Host = '127.0.0.1'; Port = 0; Database = 'puo_memo'; User = 'puo'; Password = $password
        Url = $null; ConnectionString = $null; BinDir = $bin; DataDir = $dataDir; SocketDir = $pgDir
        OsUser = $osUser; Pid = $null; LogFile = $log; Monitor = $monitor
    }
    $State.Postgres = $pg
    Save-State $State $StatePath

    $null = Invoke-Tool -FilePath "$bin/initdb" -AsUser $osUser -WorkingDirectory $pgDir -ArgumentList @(
        '-D', $dataDir, '-U', $osUser, '-E', 'UTF8', '--locale=C', '--no-sync', '--auth-local=peer', '--auth-host=scram-sha-256')

    # The socket is the superuser's way in: peer authentication (only the OS user $osUser is the database user
    # $osUser), and the socket itself is owner-only (unix_socket_permissions below), so no other local user gets in.
    [IO.File]::WriteAllText((Join-Path $dataDir 'pg_hba.conf'), @"
# written by tests/Sandbox/Sandbox.ps1
local   all   $osUser                 peer
local   all   all                     scram-sha-256
host    all   all     127.0.0.1/32    scram-sha-256
"@)
    $preload = Test-Path (Join-Path (Split-Path -Parent $bin) 'lib/pg_stat_statements.so')
    $sharedDir = "/usr/share/postgresql/$(Split-Path -Leaf (Split-Path -Parent $bin))/extension"
    $hasPrewarm = Test-Path (Join-Path $sharedDir 'pg_prewarm.control')
    Add-Content -LiteralPath (Join-Path $dataDir 'postgresql.conf') -Value "`ninclude = 'sandbox.conf'"
    if ($script:IsRoot) { $null = Invoke-Tool -FilePath 'chown' -ArgumentList @('-R', "postgres:", $pgDir) }

    $started = $false
    for ($attempt = 1; $attempt -le 3 -and -not $started; $attempt++) {
        $port = Get-FreePort
        $conf = @(
            "listen_addresses = '127.0.0.1'"
            "port = $port"
            "unix_socket_directories = '$pgDir'"
            'unix_socket_permissions = 0700'
            'fsync = off'
            'synchronous_commit = off'
            'full_page_writes = off'
            'max_connections = 100'
            'shared_buffers = 128MB'
            'password_encryption = scram-sha-256'
            'track_io_timing = on'
            "lc_messages = 'C'"
        )
        if ($preload) { $conf += "shared_preload_libraries = 'pg_stat_statements'", 'pg_stat_statements.track = all' }
        $confPath = Join-Path $dataDir 'sandbox.conf'
        [IO.File]::WriteAllLines($confPath, [string[]]$conf)
        if ($script:IsRoot) { $null = Invoke-Tool -FilePath 'chown' -ArgumentList @('postgres:', $confPath, (Join-Path $dataDir 'pg_hba.conf')) }
        $r = Invoke-Detached -LogFile (Join-Path $pgDir 'pg_ctl.out') -FilePath "$bin/pg_ctl" -AsUser $osUser -WorkingDirectory $pgDir `
            -ArgumentList @('start', '-w', '-t', '60', '-D', $dataDir, '-l', $log) -AllowFailure
        if ($r.ExitCode -eq 0) { $started = $true; $pg.Port = $port }
        elseif ((Get-LogTail $log 30) -notmatch 'could not bind|Address already in use|could not create any TCP/IP sockets') {
            throw "PostgreSQL did not start:`n$(Get-LogTail $log)"
        }
    }
    if (-not $started) { throw "PostgreSQL did not start after 3 port attempts:`n$(Get-LogTail $log)" }
    $pg.Pid = [int]([IO.File]::ReadAllLines((Join-Path $dataDir 'postmaster.pid'))[0])
    Save-State $State $StatePath

    $psql = "$bin/psql"
    $common = @('-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', $pgDir, '-p', "$($pg.Port)", '-U', $osUser)
    $verifier = New-ScramVerifier $password
    $bootstrap = @"
SET pg_stat_statements.track_utility = off;
CREATE ROLE puo LOGIN SUPERUSER PASSWORD '$verifier';
CREATE DATABASE puo_memo OWNER puo;
CREATE ROLE $($monitor.User) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$(New-ScramVerifier $monitor.Password)' IN ROLE pg_monitor, pg_signal_backend;
"@
    $null = Invoke-Tool -FilePath $psql -AsUser $osUser -WorkingDirectory $pgDir -ArgumentList ($common + @('-d', 'postgres')) -InputText $bootstrap
    $ext = ''
    if ($preload) { $ext += "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;`n" }
    if ($hasPrewarm) { $ext += "CREATE EXTENSION IF NOT EXISTS pg_prewarm;`n" }
    $null = Invoke-Tool -FilePath $psql -AsUser $osUser -WorkingDirectory $pgDir -ArgumentList ($common + @('-d', 'puo_memo')) `
        -InputText ($ext + (Get-PostgresSeedSql $MemoryRows)) -TimeoutSec 600

    $enc = [uri]::EscapeDataString($password)
    $pg.Url = "postgres://puo:$enc@127.0.0.1:$($pg.Port)/puo_memo"
    $pg.ConnectionString = "Host=127.0.0.1;Port=$($pg.Port);Database=puo_memo;Username=puo;Password=$password"
    $monitor.Url = "postgres://$($monitor.User):$([uri]::EscapeDataString($monitor.Password))@127.0.0.1:$($pg.Port)/puo_memo"
    $monitor.ConnectionString = "Host=127.0.0.1;Port=$($pg.Port);Database=puo_memo;Username=$($monitor.User);Password=$($monitor.Password)"
    Save-State $State $StatePath

    # Prove password auth over TCP works (and is enforced) before anyone relies on it.
    $tcp = @('-X', '-q', '-t', '-A', '-h', '127.0.0.1', '-p', "$($pg.Port)", '-U', 'puo', '-d', 'puo_memo', '-c', 'SELECT count(*) FROM memories')
    $ok = Invoke-Tool -FilePath $psql -ArgumentList $tcp -Environment @{ PGPASSWORD = $password; PGCONNECT_TIMEOUT = '5' }
    $bad = Invoke-Tool -FilePath $psql -ArgumentList $tcp -Environment @{ PGPASSWORD = 'wrong'; PGCONNECT_TIMEOUT = '5' } -AllowFailure
    if ($bad.ExitCode -eq 0) { throw 'PostgreSQL accepted a wrong password over TCP; pg_hba.conf is not enforcing scram-sha-256.' }
    "$($ok.StdOut.Trim()) memories"
}

function Stop-SandboxPostgres([System.Collections.IDictionary] $Pg, [string] $Root) {
    $dataDir = $Pg['DataDir']; $bin = $Pg['BinDir']; $osUser = $Pg['OsUser']
    if ($dataDir -and $bin -and (Test-Path -LiteralPath (Join-Path $dataDir 'postmaster.pid')) -and
        (Test-OwnedPid ([int]([IO.File]::ReadAllLines((Join-Path $dataDir 'postmaster.pid'))[0])) $Root)) {
        $r = Invoke-Tool -FilePath "$bin/pg_ctl" -AsUser $osUser -WorkingDirectory '/' -ArgumentList @('stop', '-m', 'fast', '-w', '-t', '30', '-D', $dataDir) -AllowFailure -TimeoutSec 45
        if ($r.ExitCode -ne 0) { Write-Warning "pg_ctl stop: $($r.StdErr.Trim())" }
    }
    if ($Pg['Pid'] -and (Test-OwnedPid $Pg['Pid'] $Root)) { Stop-Pid @([int]$Pg['Pid']) }
}

#endregion

#region redis --------------------------------------------------------------------------------

function ConvertTo-Resp([string[]] $Words) {
    $sb = [Text.StringBuilder]::new()
    $null = $sb.Append('*').Append($Words.Count).Append("`r`n")
    foreach ($w in $Words) {
        $null = $sb.Append('$').Append([Text.Encoding]::UTF8.GetByteCount($w)).Append("`r`n").Append($w).Append("`r`n")
    }
    $sb.ToString()
}

function Get-RedisSeed {
    $sb = [Text.StringBuilder]::new()
    $add = { param([string[]] $w) $null = $sb.Append((ConvertTo-Resp $w)) }
    for ($i = 1; $i -le 400; $i++) {
        $v = "{`"memory_id`":$i,`"score`":0.$($i % 97),`"cached_at`":`"2025-01-01T00:00:00Z`"}"
        if ($i % 4 -eq 0) { & $add @('SET', "puo:cache:search:$i", $v, 'EX', "$(600 + $i)") }
        else { & $add @('SET', "puo:cache:search:$i", $v) }
    }
    for ($i = 1; $i -le 300; $i++) {
        & $add @('HSET', "puo:session:sess$('{0:d5}' -f $i)", 'user_id', "user_$($i % 500)", 'ip', "10.0.$($i % 250).$(1 + $i % 200)", 'created_at', '2025-01-01T00:00:00Z', 'client', 'claude-desktop')
        if ($i % 2 -eq 0) { & $add @('EXPIRE', "puo:session:sess$('{0:d5}' -f $i)", '1800') }
    }
    for ($i = 1; $i -le 250; $i++) {
        & $add @('SET', "puo:memory:$i", "{`"id`":$i,`"user_id`":`"user_$($i % 500)`",`"content`":`"cached memory $i`"}")
    }
    for ($i = 1; $i -le 45; $i++) { & $add @('SET', "puo:ratelimit:10.0.0.$i", "$($i * 3)", 'EX', '60') }
    for ($i = 1; $i -le 100; $i++) { & $add @('RPUSH', 'puo:queue:embeddings', "{`"memory_id`":$i}") }
    & $add (@('SADD', 'puo:users:active') + (1..200 | ForEach-Object { "user_$_" }))
    & $add (@('ZADD', 'puo:stats:top_users') + (1..50 | ForEach-Object { "$($_ * 7)"; "user_$_" }))
    & $add @('SET', 'puo:config:version', 'a1b2c3d4e5f6')
    & $add @('HSET', 'puo:stats:counters', 'requests', '42', 'errors', '3')
    for ($i = 1; $i -le 200; $i++) {
        if ($i % 2) { & $add @('SET', "other:key:$i", "value $i") }
        else { & $add @('HSET', "other:hash:$i", 'field', "$i") }
    }
    $sb.ToString()
}

function Invoke-RedisCli([System.Collections.IDictionary] $Redis, [string[]] $Arguments, [string] $InputText, [switch] $AllowFailure) {
    Invoke-Tool -FilePath 'redis-cli' -ArgumentList (@('-h', '127.0.0.1', '-p', "$($Redis.Port)", '--no-auth-warning') + $Arguments) `
        -Environment @{ REDISCLI_AUTH = $Redis.Password } -InputText $InputText -AllowFailure:$AllowFailure -TimeoutSec 60
}

function Start-SandboxRedis([System.Collections.IDictionary] $State, [string] $StatePath) {
    $dir = Join-Path $State.Root 'redis'
    $null = New-Item -ItemType Directory -Path $dir -Force
    $password = New-Secret 32
    $monitor = [ordered]@{ User = 'puo_monitor'; Password = (New-Secret 32); ConnectionString = $null; Url = $null }
    $redis = [ordered]@{ Host = '127.0.0.1'; Port = 0; Password = $password; ConnectionString = $null; Pid = $null
        PidFile = "$dir/redis.pid"; LogFile = "$dir/redis.log"; Monitor = $monitor }
    $State.Redis = $redis
    Save-State $State $StatePath
    $started = $false
    for ($attempt = 1; $attempt -le 3 -and -not $started; $attempt++) {
        $redis.Port = Get-FreePort
        # A config file (mode 600) instead of --requirepass, so the password is not in `ps`.
        $conf = Join-Path $dir 'redis.conf'
        [IO.File]::WriteAllText($conf, '')
        [IO.File]::SetUnixFileMode($conf, [IO.UnixFileMode]'UserRead, UserWrite')
        [IO.File]::WriteAllLines($conf, [string[]]@(
                "port $($redis.Port)", 'bind 127.0.0.1', "requirepass $password", 'save ""', 'appendonly no',
                'daemonize yes', "pidfile $dir/redis.pid", "dir $dir", 'maxmemory 2gb', 'maxmemory-policy noeviction',
                "logfile $dir/redis.log", 'protected-mode yes'))
        $launch = Invoke-Detached -LogFile "$dir/redis.out" -FilePath 'redis-server' -ArgumentList @($conf) -WorkingDirectory $dir -AllowFailure
        if ($launch.ExitCode -ne 0) { throw "redis-server failed to start (exit $($launch.ExitCode)):`n$(Get-LogTail "$dir/redis.out")`n$(Get-LogTail "$dir/redis.log")" }
        $deadline = [DateTime]::UtcNow.AddSeconds(15)
        while ([DateTime]::UtcNow -lt $deadline) {
            $r = Invoke-RedisCli $redis @('PING') -AllowFailure
            if ($r.StdOut.Trim() -eq 'PONG') { $started = $true; break }
            if ((Get-LogTail "$dir/redis.log" 5) -match 'Address already in use|Could not create server TCP') { break }
            Start-Sleep -Milliseconds 100
        }
    }
    if (-not $started) { throw "Redis did not start:`n$(Get-LogTail "$dir/redis.log")" }
    $deadline = [DateTime]::UtcNow.AddSeconds(5)
    while (-not (Test-Path "$dir/redis.pid") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
    $redis.Pid = [int]([IO.File]::ReadAllText("$dir/redis.pid").Trim())
    $redis.ConnectionString = "127.0.0.1:$($redis.Port),password=$password"
    Save-State $State $StatePath

    $r = Invoke-RedisCli $redis @('--pipe') -InputText (Get-RedisSeed)
    if ($r.StdOut -notmatch 'errors: 0,') { throw "Redis seeding reported errors: $($r.StdOut.Trim())" }

    # The on-call operator's ACL user: what the read cmdlets and Clear-PuoCache -Pattern need (and what
    # StackExchange.Redis sends while connecting), nothing else: no EVAL, FLUSHDB, FLUSHALL, KEYS or CONFIG SET.
    # The password goes through redis-cli's stdin, never its command line.
    $version = [version]([regex]::Match((Invoke-RedisCli $redis @('INFO', 'server')).StdOut, 'redis_version:([\d.]+)').Groups[1].Value)
    $allowed = @('ping', 'echo', 'info', 'select', 'client|setname', 'client|id', 'config|get', 'slowlog|get', 'dbsize', 'scan', 'type',
        'pttl', 'memory|usage', 'unlink', 'del') + $(if ($version -ge [version]'7.2') { 'client|setinfo' })
    $acl = "ACL SETUSER $($monitor.User) reset on >$($monitor.Password) ~* resetchannels -@all $(($allowed | ForEach-Object { "+$_" }) -join ' ')`n"
    $set = Invoke-RedisCli $redis @() -InputText $acl
    if ($set.StdOut.Trim() -ne 'OK') { throw "Creating the Redis ACL user $($monitor.User) failed: $($set.StdOut.Trim())" }
    $monitor.ConnectionString = "127.0.0.1:$($redis.Port),user=$($monitor.User),password=$($monitor.Password)"
    $monitor.Url = "redis://$($monitor.User):$([uri]::EscapeDataString($monitor.Password))@127.0.0.1:$($redis.Port)/0"
    Save-State $State $StatePath
    "$((Invoke-RedisCli $redis @('DBSIZE')).StdOut.Trim()) keys"
}

function Stop-SandboxRedis([System.Collections.IDictionary] $Redis, [string] $Root) {
    $processId = $Redis['Pid']
    if (-not $processId -and $Redis['PidFile'] -and (Test-Path -LiteralPath $Redis['PidFile'])) {
        $processId = [int]([IO.File]::ReadAllText($Redis['PidFile']).Trim())
    }
    if ($processId -and (Test-OwnedPid $processId $Root)) {
        if ($Redis['Port'] -and $Redis['Password']) { $null = Invoke-RedisCli $Redis @('SHUTDOWN', 'NOSAVE') -AllowFailure }
        if (-not (Wait-PidExit @([int]$processId) 5)) { Stop-Pid @([int]$processId) }
    }
}

#endregion

#region docker -------------------------------------------------------------------------------

function Invoke-Docker([string] $DockerHost, [string[]] $Arguments, [int] $TimeoutSec = 60, [switch] $AllowFailure) {
    Invoke-Tool -FilePath 'docker' -ArgumentList (@('-H', $DockerHost) + $Arguments) -TimeoutSec $TimeoutSec -AllowFailure:$AllowFailure `
        -Environment @{ DOCKER_CONTEXT = $null; DOCKER_HOST = $null }
}

function Start-SandboxDockerDaemon([System.Collections.IDictionary] $State, [string] $StatePath) {
    # Phase 1: launch dockerd without waiting, so it initializes while Postgres is being seeded.
    $dir = Join-Path $State.Root 'docker'
    $docker = [ordered]@{ Available = $false; Host = "unix://$dir/docker.sock"; Image = 'puo-busybox:latest'; Pid = $null
        Error = $null; StorageDriver = $null; LogFile = "$dir/dockerd.log"; ExecRoot = "$dir/exec"
        # The swarm's listen and advertise address (Complete-SandboxDocker makes the engine a single-node swarm).
        SwarmListenAddr = "127.0.0.1:$(Get-FreePort)"; ComposeProject = $null }
    $State.Docker = $docker
    Save-State $State $StatePath
    if (-not $script:IsRoot) { $docker.Error = 'dockerd needs root; run the sandbox as root for Docker.'; return }
    foreach ($tool in 'dockerd', 'docker', 'containerd', 'runc') {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { $docker.Error = "'$tool' not found (package docker.io)."; return }
    }
    $null = New-Item -ItemType Directory -Path $dir -Force
    # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 (as moby's own test daemons run): a Swarm task uses the local image without
    # asking a registry first, so nothing leaves loopback (no registry exists here).
    $docker.Pid = Start-Background -LogFile $docker.LogFile -WorkingDirectory $dir -FilePath 'env' -ArgumentList @(
        'DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1', 'dockerd', '--host', $docker.Host, '--data-root', "$dir/data", '--exec-root', "$dir/exec", '--pidfile', "$dir/docker.pid",
        '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false')
    Save-State $State $StatePath
}

function Confirm-ServiceStarted([string] $Name, [System.Collections.IDictionary] $Section) {
    # Under CI=true a service the suite needs that did not start fails the start, and so the run, with its reason.
    # Elsewhere the sandbox goes on without it and the tests that need it are skipped, printing the same reason.
    if (-not $Section['Available'] -and $env:CI -eq 'true') {
        throw "$Name did not start: $($Section['Error']) (CI=true: every service the suite needs must run)."
    }
}

function Complete-SandboxDocker([System.Collections.IDictionary] $State, [string] $StatePath) {
    # Phase 2: wait for the API, build the busybox image offline, prove a container runs.
    $docker = $State.Docker
    if (-not $docker.Pid) { return "unavailable: $($docker.Error)" }
    $dir = Join-Path $State.Root 'docker'
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds(40)
        $ready = $false
        while ([DateTime]::UtcNow -lt $deadline) {
            if (-not (Test-PidAlive $docker.Pid)) { throw "dockerd exited during startup:`n$(Get-LogTail $docker.LogFile)" }
            if ((Invoke-Docker $docker.Host @('version', '--format', '{{.Server.Version}}') -TimeoutSec 10 -AllowFailure).ExitCode -eq 0) { $ready = $true; break }
            Start-Sleep -Milliseconds 200
        }
        if (-not $ready) { throw "dockerd did not answer within 40 s:`n$(Get-LogTail $docker.LogFile)" }
        $docker.StorageDriver = (Invoke-Docker $docker.Host @('info', '--format', '{{.Driver}}')).StdOut.Trim()

        $busybox = '/bin/busybox'
        if (-not (Test-Path $busybox)) { throw "$busybox not found (package busybox-static)." }
        $rootfs = Join-Path $dir 'rootfs'
        foreach ($d in 'bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'var/www', 'root') { $null = New-Item -ItemType Directory -Path (Join-Path $rootfs $d) -Force }
        Copy-Item -LiteralPath $busybox -Destination "$rootfs/bin/busybox"
        foreach ($applet in (Invoke-Tool -FilePath $busybox -ArgumentList @('--list')).StdOut.Split("`n", [StringSplitOptions]::RemoveEmptyEntries)) {
            if ($applet -ne 'busybox' -and -not (Test-Path -LiteralPath "$rootfs/bin/$applet")) {
                $null = [IO.File]::CreateSymbolicLink("$rootfs/bin/$applet", 'busybox')
            }
        }
        [IO.File]::WriteAllText("$rootfs/etc/passwd", "root:x:0:0:root:/root:/bin/sh`nnobody:x:65534:65534:nobody:/:/bin/false`n")
        [IO.File]::WriteAllText("$rootfs/etc/group", "root:x:0:`nnogroup:x:65534:`n")
        [IO.File]::WriteAllText("$rootfs/var/www/health", "{`"status`":`"healthy`"}`n")
        $null = Invoke-Tool -FilePath 'chmod' -ArgumentList @('1777', "$rootfs/tmp")
        $null = Invoke-Tool -FilePath 'tar' -ArgumentList @('--numeric-owner', '-C', $rootfs, '-cf', "$dir/rootfs.tar", '.')
        $null = Invoke-Docker $docker.Host @('import', '-c', 'CMD ["/bin/sh"]', "$dir/rootfs.tar", $docker.Image)
        Remove-Item -LiteralPath $rootfs, "$dir/rootfs.tar" -Recurse -Force
        $r = Invoke-Docker $docker.Host @('run', '--rm', '--network', 'none', $docker.Image, 'echo', 'ok')
        if ($r.StdOut.Trim() -ne 'ok') { throw "test container printed '$($r.StdOut.Trim())' instead of 'ok'." }
        # A stand-in for the stack's compose project (COMPOSE_PROJECT_NAME default "puo-memo"): services api and mcp,
        # labelled as docker compose labels them, with a healthcheck and a log on stdout and stderr, so the help
        # examples (Get-PuoContainer, Restart-PuoService api) have a stack to act on. Tests make their own projects.
        foreach ($service in 'api', 'mcp') {
            $script = 'trap "exit 0" TERM; i=0; while true; do echo "{0} request $i ok"; if [ $((i % 10)) -eq 0 ]; then echo "{0} warning: slow request $i" >&2; fi; i=$((i+1)); sleep 1 & wait $!; done' -f $service
            $null = Invoke-Docker $docker.Host @('run', '-d', '--name', "puo-memo-$service-1", '--network', 'none', '--stop-timeout', '2',
                '--label', 'com.docker.compose.project=puo-memo', '--label', "com.docker.compose.service=$service",
                '--label', 'com.docker.compose.container-number=1', '--label', 'com.docker.compose.oneoff=False',
                '--health-cmd', 'true', '--health-interval', '2s', $docker.Image, 'sh', '-c', $script)
        }
        $docker.ComposeProject = 'puo-memo'
        # A single-node swarm on the sandbox's own 127.0.0.1 listen address (the default 0.0.0.0:2377 would collide between
        # parallel sandboxes): blue and green run on it as Swarm services (Start-SandboxColors), and the Swarm tests use it.
        $null = Invoke-Docker $docker.Host @('swarm', 'init', '--advertise-addr', $docker.SwarmListenAddr, '--listen-addr', $docker.SwarmListenAddr)
        $docker.Available = $true
        $docker.Error = $null
        Save-State $State $StatePath
        "storage driver $($docker.StorageDriver), image $($docker.Image), swarm manager on $($docker.SwarmListenAddr)"
    }
    catch {
        $docker.Available = $false
        $docker.Error = "$($_.Exception.Message)"
        Save-State $State $StatePath
        "unavailable: $($docker.Error)"
    }
}

function Stop-SandboxDocker([System.Collections.IDictionary] $Docker, [string] $Root) {
    $processId = $Docker['Pid']
    if (-not ($processId -and (Test-OwnedPid $processId $Root))) { return }
    $h = $Docker['Host']
    $v = Invoke-Docker $h @('version', '--format', '{{.Server.Version}}') -TimeoutSec 10 -AllowFailure
    if ($v.ExitCode -eq 0) {
        $swarm = (Invoke-Docker $h @('info', '--format', '{{.Swarm.LocalNodeState}}') -TimeoutSec 15 -AllowFailure).StdOut.Trim()
        if ($swarm -and $swarm -ne 'inactive') { $null = Invoke-Docker $h @('swarm', 'leave', '--force') -TimeoutSec 30 -AllowFailure }
        $ids = @((Invoke-Docker $h @('ps', '-aq') -TimeoutSec 15 -AllowFailure).StdOut.Split("`n", [StringSplitOptions]::RemoveEmptyEntries))
        if ($ids) { $null = Invoke-Docker $h (@('rm', '-f', '-v') + $ids) -TimeoutSec 60 -AllowFailure }
    }
    # dockerd and the containerd it supervises (and any shim) must all be gone before unmounting.
    $family = @([int]$processId) + @(Get-Descendant @([int]$processId) (Get-ProcessTable))
    Send-Signal $processId 'TERM'
    if (-not (Wait-PidExit $family 25)) { foreach ($p in $family) { if (Test-PidAlive $p) { Send-Signal $p 'KILL' } } }
    $null = Wait-PidExit $family 5
}

#endregion

#region nginx --------------------------------------------------------------------------------

function Start-SandboxNginx([System.Collections.IDictionary] $State, [string] $StatePath) {
    $dir = Join-Path $State.Root 'nginx'
    foreach ($d in 'logs', 'temp') { $null = New-Item -ItemType Directory -Path (Join-Path $dir $d) -Force }
    $nginxExe = (Get-Command nginx -ErrorAction SilentlyContinue)?.Source
    if (-not $nginxExe) { $nginxExe = '/usr/sbin/nginx' }
    $conf = Join-Path $dir 'nginx.conf'
    $active = Join-Path $dir 'active.conf'
    # The deny list Block-PuoIpAddress writes (its default: puo-blocklist.conf beside nginx.conf), applied on the front server.
    $blockList = Join-Path $dir 'puo-blocklist.conf'
    [IO.File]::WriteAllText($blockList, "# PuoOps block list (empty): nginx answers 403 to the addresses listed here.`n")
    $ngx = [ordered]@{ Port = 0; BluePort = 0; GreenPort = 0; ActiveConf = $active; BlockList = $blockList; Conf = $conf; Pid = $null
        Prefix = "$dir/"; PidFile = "$dir/nginx.pid"; ErrorLog = "$dir/logs/error.log"; Binary = $nginxExe }
    $State.Nginx = $ngx
    Save-State $State $StatePath
    $started = $false
    for ($attempt = 1; $attempt -le 3 -and -not $started; $attempt++) {
        $front, $blue, $green = Get-FreePort 3
        [IO.File]::WriteAllText($active, "# active colour; rewrite and run 'nginx -s reload' to switch`nupstream puo_active {`n    server 127.0.0.1:$blue;`n}`n")
        $temp = "$dir/temp"
        [IO.File]::WriteAllText($conf, @"
# written by tests/Sandbox/Sandbox.ps1
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/logs/error.log notice;  # notice: each reload logs 'signal 1 (SIGHUP) received', which tests count
events { worker_connections 256; }
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $temp/client_body;
    proxy_temp_path $temp/proxy;
    fastcgi_temp_path $temp/fastcgi;
    uwsgi_temp_path $temp/uwsgi;
    scgi_temp_path $temp/scgi;
    keepalive_timeout 5;

    include $active;

    server {  # front: what clients hit; forwards to the active colour
        listen 127.0.0.1:$front;
        include $blockList;
        location / {
            proxy_pass http://puo_active;
            proxy_set_header Host `$host;
            proxy_set_header X-Forwarded-For `$remote_addr;
            proxy_connect_timeout 2s;
        }
    }
}
"@)
        $common = @('-e', "$dir/logs/error.log", '-p', "$dir/", '-c', $conf)
        $null = Invoke-Tool -FilePath $nginxExe -ArgumentList (@('-t', '-q') + $common) -WorkingDirectory $dir
        $r = Invoke-Detached -LogFile "$dir/logs/nginx.out" -FilePath $nginxExe -ArgumentList $common -WorkingDirectory $dir -AllowFailure
        if ($r.ExitCode -eq 0) { $started = $true }
        elseif ((Get-LogTail "$dir/logs/error.log" 5) -notmatch 'Address already in use') {
            throw "nginx did not start:`n$(Get-LogTail "$dir/logs/error.log")"
        }
    }
    if (-not $started) { throw "nginx did not start after 3 port attempts:`n$(Get-LogTail "$dir/logs/error.log")" }
    $deadline = [DateTime]::UtcNow.AddSeconds(5)
    while (-not (Test-Path "$dir/nginx.pid") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
    $ngx.Pid = [int]([IO.File]::ReadAllText("$dir/nginx.pid").Trim())
    $ngx.Port = $front; $ngx.BluePort = $blue; $ngx.GreenPort = $green
    Save-State $State $StatePath
    "front $front -> blue $blue (green $green)"
}

function Stop-SandboxNginx([System.Collections.IDictionary] $Ngx, [string] $Root) {
    $processId = $Ngx['Pid']
    if (-not $processId -and $Ngx['PidFile'] -and (Test-Path -LiteralPath $Ngx['PidFile'])) {
        $processId = [int]([IO.File]::ReadAllText($Ngx['PidFile']).Trim())
    }
    if ($processId -and (Test-OwnedPid $processId $Root)) {
        $family = @([int]$processId) + @(Get-Descendant @([int]$processId) (Get-ProcessTable))
        Send-Signal $processId 'TERM'   # nginx: TERM = fast shutdown, same as `nginx -s stop`
        if (-not (Wait-PidExit $family 10)) { Stop-Pid $family 2 }
    }
}

#endregion

#region blue and green ------------------------------------------------------------------------

function Start-SandboxColors([System.Collections.IDictionary] $State, [string] $StatePath) {
    # The two colours behind nginx's puo_active upstream, on the ports Start-SandboxNginx chose: the script of
    # tests/Sandbox/color-httpd.sh (busybox httpd serving /health and /version "<colour> <image>"). With Docker they are
    # Swarm services on the sandbox engine, labelled as the module discovers colours (puo.color, puo.port, and
    # puo.upstream, so pairs of other upstreams on the same swarm never see them); without Docker (not root, or -Services
    # without Docker) the same script runs as two processes.
    $ngx = $State.Nginx
    $docker = Get-Section $State 'Docker'
    $swarm = $docker -and $docker['Available']
    $colors = [ordered]@{ Runner = $(if ($swarm) { 'Swarm' } else { 'Process' }); Upstream = 'puo_active'
        Script = [IO.File]::ReadAllText((Join-Path $PSScriptRoot 'color-httpd.sh')); DockerHost = $(if ($swarm) { $docker.Host })
        Image = $(if ($swarm) { $docker.Image } else { 'process' }); Blue = $null; Green = $null }
    $State.Colors = $colors
    foreach ($key in 'Blue', 'Green') {
        $color = $key.ToLowerInvariant()
        $port = $ngx["${key}Port"]
        $section = [ordered]@{ Port = $port; Service = $null; Pid = $null }
        $colors[$key] = $section
        if ($swarm) {
            $section.Service = "puo-$color"
            $null = Invoke-Docker $docker.Host @('service', 'create', '--detach', '--name', $section.Service, '--network', 'host',
                '--stop-grace-period', '1s', '--no-resolve-image', '--label', "puo.color=$color", '--label', "puo.port=$port",
                '--label', "puo.upstream=$($colors.Upstream)", '-e', "PORT=$port", '-e', "PUO_COLOR=$color", '-e', "PUO_IMAGE=$($colors.Image)",
                $colors.Image, 'sh', '-c', $colors.Script)
        }
        else {
            $dir = New-Item -ItemType Directory -Path (Join-Path $State.Root $color)
            if (-not (Get-Command busybox -ErrorAction SilentlyContinue)) { throw 'busybox not found (package busybox-static): it serves the blue and green colours.' }
            $section.Pid = Start-Background -LogFile "$dir/httpd.log" -WorkingDirectory $dir -FilePath 'env' -ArgumentList @(
                "PORT=$port", "PUO_COLOR=$color", "PUO_IMAGE=$($colors.Image)", "PUO_WWW=$dir/www", 'busybox', 'sh', '-c', $colors.Script)
        }
        Save-State $State $StatePath
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(90)
    foreach ($key in 'Blue', 'Green') {
        $color = $key.ToLowerInvariant()
        $expected = "$color $($colors.Image)"
        while ((Invoke-Tool -FilePath 'curl' -ArgumentList @('-s', '--max-time', '2', "http://127.0.0.1:$($colors[$key].Port)/version") -AllowFailure).StdOut.Trim() -ne $expected) {
            if ([DateTime]::UtcNow -gt $deadline) {
                $why = if ($swarm) { (Invoke-Docker $docker.Host @('service', 'ps', '--no-trunc', $colors[$key].Service) -AllowFailure).StdOut } else { Get-LogTail (Join-Path $State.Root "$color/httpd.log") }
                throw "$color did not answer /version '$expected' on 127.0.0.1:$($colors[$key].Port) within 90 s:`n$why"
            }
            Start-Sleep -Milliseconds 200
        }
    }
    # Through nginx: /health answers (the access log's first line, which the README's Search-PuoLog line finds) and blue serves.
    $health = Invoke-Tool -FilePath 'curl' -ArgumentList @('-sf', '--max-time', '5', "http://127.0.0.1:$($ngx.Port)/health") -AllowFailure
    if ($health.ExitCode -ne 0) { throw "nginx front port $($ngx.Port) did not answer /health (curl exit $($health.ExitCode))." }
    $probe = Invoke-Tool -FilePath 'curl' -ArgumentList @('-s', '--max-time', '5', "http://127.0.0.1:$($ngx.Port)/version") -AllowFailure
    if ($probe.StdOut.Trim() -ne "blue $($colors.Image)") { throw "nginx front port $($ngx.Port) did not answer as blue (curl exit $($probe.ExitCode): '$($probe.StdOut.Trim())')." }
    "$($colors.Runner): blue :$($colors.Blue.Port), green :$($colors.Green.Port), nginx -> blue"
}

function Stop-SandboxColors([System.Collections.IDictionary] $Colors, [string] $Root) {
    foreach ($color in 'Blue', 'Green') {
        $section = Get-Section $Colors $color
        if (-not $section) { continue }
        if ($section['Service'] -and $Colors['DockerHost']) { $null = Invoke-Docker $Colors['DockerHost'] @('service', 'rm', $section['Service']) -TimeoutSec 30 -AllowFailure }
        if ($section['Pid'] -and (Test-OwnedPid $section['Pid'] $Root)) { Stop-Pid @([int]$section['Pid']) 5 }
    }
}

#endregion

#region api and mcp stand-ins ------------------------------------------------------------------

function Get-StandInAssembly {
    # The stand-in program (tests/StandIn), as build.ps1 builds it with the solution; built here when missing.
    $project = Join-Path $script:RepoRoot 'tests/StandIn/PuoOps.StandIn.csproj'
    $find = { Get-ChildItem -Path (Join-Path $script:RepoRoot 'tests/StandIn/bin') -Filter 'PuoOps.StandIn.dll' -Recurse -ErrorAction SilentlyContinue |
            Sort-Object { $_.FullName -notmatch '/Release/' }, LastWriteTimeUtc -Descending | Select-Object -First 1 }
    $dll = & $find
    if (-not $dll) {
        Write-Step 'building the api/mcp stand-in (tests/StandIn)'
        $null = Invoke-Tool -FilePath 'dotnet' -ArgumentList @('build', $project, '-c', 'Release', '-nologo', '-v', 'q', '--disable-build-servers') -TimeoutSec 600
        $dll = & $find
        if (-not $dll) { throw "dotnet build $project produced no PuoOps.StandIn.dll." }
    }
    $dll.FullName
}

function Start-SandboxStandIn([System.Collections.IDictionary] $State, [string] $StatePath) {
    # The API and MCP services: one stand-in process each on a free port it picks itself and writes to a file.
    # POST <Url>/_standin?status=500|body=...|delayMs=..|stallMs=..&periodMs=..|hang=true changes how it answers.
    $dll = Get-StandInAssembly
    $dotnet = (Get-Command dotnet -ErrorAction SilentlyContinue)?.Source ?? [Environment]::ProcessPath
    $started = foreach ($name in 'Api', 'Mcp') {
        $dir = Join-Path $State.Root $name.ToLowerInvariant()
        $null = New-Item -ItemType Directory -Path $dir -Force
        $section = [ordered]@{ Url = $null; Pid = $null; LogFile = "$dir/standin.log"; PortFile = "$dir/port" }
        $State[$name] = $section
        $section.Pid = Start-Background -LogFile $section.LogFile -WorkingDirectory $dir -FilePath $dotnet -ArgumentList @(
            $dll, '--name', $name.ToLowerInvariant(), '--port-file', $section.PortFile)
        Save-State $State $StatePath
        $section
    }
    $deadline = [DateTime]::UtcNow.AddSeconds(60)
    foreach ($section in $started) {
        while (-not (Test-Path -LiteralPath $section.PortFile)) {
            if (-not (Test-PidAlive $section.Pid)) { throw "The stand-in exited during startup:`n$(Get-LogTail $section.LogFile)" }
            if ([DateTime]::UtcNow -gt $deadline) { throw "The stand-in did not start within 60 s:`n$(Get-LogTail $section.LogFile)" }
            Start-Sleep -Milliseconds 100
        }
        $section.Url = "http://127.0.0.1:$([IO.File]::ReadAllText($section.PortFile).Trim())"
    }
    Save-State $State $StatePath
    foreach ($section in $started) {
        $probe = Invoke-Tool -FilePath 'curl' -ArgumentList @('-sf', '--max-time', '5', "$($section.Url)/health") -AllowFailure
        if ($probe.ExitCode -ne 0 -and (Get-Command curl -ErrorAction SilentlyContinue)) { throw "The stand-in at $($section.Url) did not answer /health." }
    }
    "api $($State.Api.Url), mcp $($State.Mcp.Url)"
}

function Stop-SandboxStandIn([System.Collections.IDictionary] $StandIn, [string] $Root) {
    if ($StandIn['Pid'] -and (Test-OwnedPid $StandIn['Pid'] $Root)) { Stop-Pid @([int]$StandIn['Pid']) 5 }
}

#endregion

#region app files ----------------------------------------------------------------------------

function New-SandboxApp([System.Collections.IDictionary] $State, [string] $StatePath) {
    # The stand-in stack's project folder: the .env that docker compose would read (API_KEY, JWT_SECRET) and the
    # .env.example beside it, for the secrets cmdlets. Fresh random values each start; the .env is owner-only.
    $dir = Join-Path $State['Root'] 'puo-memo'
    $null = New-Item -ItemType Directory -Path $dir
    $alphabet = [char[]]'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
    $envFile = Join-Path $dir '.env'
    $stream = [IO.FileStream]::new($envFile, [IO.FileStreamOptions]@{ Mode = 'CreateNew'; Access = 'Write'; UnixCreateMode = 'UserRead, UserWrite' })
    $apiKey = [Security.Cryptography.RandomNumberGenerator]::GetString($alphabet, 48)
    $jwtSecret = [Security.Cryptography.RandomNumberGenerator]::GetString($alphabet, 64)
    $writer = [IO.StreamWriter]::new($stream, [Text.UTF8Encoding]::new($false))
    try {
        $writer.Write("# PUO Memo stack (sandbox stand-in)`nCOMPOSE_PROJECT_NAME=puo-memo`n`n# Authentication`nAPI_KEY=$apiKey`n" +
            "JWT_SECRET=`"$jwtSecret`"`nLOG_LEVEL=info`n")
    }
    finally { $writer.Dispose() }
    Set-Content -LiteralPath (Join-Path $dir '.env.example') -NoNewline -Value (
        "COMPOSE_PROJECT_NAME=puo-memo`nAPI_KEY=your-api-key`nJWT_SECRET=change-me-to-a-long-random-string`nLOG_LEVEL=info`n")
    $State['App'] = [ordered]@{ Dir = $dir; EnvFile = $envFile }
    Save-State $State $StatePath
}

#endregion

#region stop / start / status ----------------------------------------------------------------

function Remove-SandboxRoot([string] $Root) {
    # Last line of defence: anything still running from inside the root (a containerd shim, a
    # container process, a postgres backend) is killed, then mounts are lazily detached deepest
    # first, and only then is the directory removed.
    $table = Get-ProcessTable
    $self = [System.Collections.Generic.HashSet[int]]::new()   # never us or our ancestors
    for ($p = $PID; $p -gt 0 -and $self.Add($p); $p = [int]$table[$p]) { }
    $mine = foreach ($p in $table.Keys) {
        if ($self.Contains($p)) { continue }
        $i = Get-ProcInfo $p
        if ($i.Cmd.Contains("$Root/") -or $i.Cwd -eq $Root -or $i.Cwd.StartsWith("$Root/")) { $p }
    }
    if ($mine) {
        $all = @($mine) + @(Get-Descendant @($mine) $table) | Where-Object { -not $self.Contains($_) } | Select-Object -Unique
        Write-Step "killing leftover processes: $($all -join ' ')"
        Stop-Pid $all 5
    }
    for ($i = 0; $i -lt 3; $i++) {
        $mounts = Get-MountUnder $Root
        if (-not $mounts) { break }
        foreach ($m in $mounts) { $null = Invoke-Tool -FilePath 'umount' -ArgumentList @('-l', $m) -AllowFailure }
    }
    $left = Get-MountUnder $Root
    if ($left) { throw "Still mounted under ${Root}: $($left -join ', '). Unmount them, then run -Action Stop again." }
    if (Test-Path -LiteralPath $Root) {
        $null = Invoke-Tool -FilePath 'rm' -ArgumentList @('-rf', '--one-file-system', '--', $Root) -TimeoutSec 120
    }
}

function Stop-Sandbox([string] $StatePath) {
    $state = Read-State $StatePath
    if (-not $state) { Write-Step "no sandbox recorded in $StatePath"; return }
    $root = [string]$state['Root']
    if (-not $root -or $root -notmatch $script:RootPattern) {
        throw "State file $StatePath names root '$root', which is not a sandbox root (expected .../puo-sandbox-XXXXXX); not touching it."
    }
    $sw = [Diagnostics.Stopwatch]::StartNew()
    $errors = [Collections.Generic.List[string]]::new()
    foreach ($step in @(
            @{ Name = 'Nginx'; Fn = ${function:Stop-SandboxNginx} }
            @{ Name = 'Colors'; Fn = ${function:Stop-SandboxColors} }
            @{ Name = 'Api'; Fn = ${function:Stop-SandboxStandIn} }
            @{ Name = 'Mcp'; Fn = ${function:Stop-SandboxStandIn} }
            @{ Name = 'Docker'; Fn = ${function:Stop-SandboxDocker} }
            @{ Name = 'Redis'; Fn = ${function:Stop-SandboxRedis} }
            @{ Name = 'Postgres'; Fn = ${function:Stop-SandboxPostgres} })) {
        $section = Get-Section $state $step.Name
        if (-not $section) { continue }
        try { & $step.Fn $section $root }
        catch { $errors.Add("$($step.Name): $($_.Exception.Message)") }
    }
    Remove-SandboxRoot $root
    if ($errors.Count) { Write-Warning ("while stopping: " + ($errors -join '; ')) }
    Remove-Item -LiteralPath $StatePath -Force -ErrorAction SilentlyContinue
    Write-Step ("stopped {0} in {1:n1} s" -f $root, $sw.Elapsed.TotalSeconds)
}

function Start-Sandbox([string] $StatePath, [string[]] $Want) {
    $sw = [Diagnostics.Stopwatch]::StartNew()
    if (Test-Path -LiteralPath $StatePath) {
        Write-Step "replacing the sandbox recorded in $StatePath"
        Stop-Sandbox $StatePath
    }
    $installFor = if ($script:IsRoot) { @($Want) + 'Browser' } else { @($Want | Where-Object { $_ -ne 'Docker' }) }
    Install-Sandbox $installFor

    $root = (Invoke-Tool -FilePath 'mktemp' -ArgumentList @('-d', '/tmp/puo-sandbox-XXXXXX')).StdOut.Trim()
    # 711: service users (postgres, nginx workers) may traverse but not list the root.
    [IO.File]::SetUnixFileMode($root, [IO.UnixFileMode]'UserRead, UserWrite, UserExecute, GroupExecute, OtherExecute')
    # The daemons' own temp files (runc's, containerd's) go under the root, so Stop removes them with it and /tmp is
    # left as it was found. Sticky and world-writable like /tmp: PostgreSQL runs as another user.
    $daemonTemp = New-Item -ItemType Directory -Path (Join-Path $root 'tmp')
    $null = Invoke-Tool -FilePath 'chmod' -ArgumentList @('1777', $daemonTemp.FullName)
    $env:TMPDIR = $daemonTemp.FullName
    $state = [ordered]@{ Root = $root; Postgres = $null; Redis = $null; Docker = $null; Nginx = $null; Colors = $null; Api = $null; Mcp = $null; App = $null
        StartedAt = [DateTime]::UtcNow.ToString('o'); Services = @($Want) }
    Save-State $state $StatePath
    Write-Step "root $root"
    $ok = $false
    try {
        New-SandboxApp $state $StatePath
        $summary = [ordered]@{}
        if ('Docker' -in $Want) { Start-SandboxDockerDaemon $state $StatePath }
        foreach ($svc in 'Postgres', 'Redis', 'Nginx') {
            if ($svc -notin $Want) { continue }
            $t = [Diagnostics.Stopwatch]::StartNew()
            $detail = & "Start-Sandbox$svc" $state $StatePath
            $summary[$svc] = "{0} ({1:n1} s)" -f $detail, $t.Elapsed.TotalSeconds
            Write-Step "$svc ready: $($summary[$svc])"
        }
        if ('Nginx' -in $Want) {
            $t = [Diagnostics.Stopwatch]::StartNew()
            $summary['StandIn'] = "{0} ({1:n1} s)" -f (Start-SandboxStandIn $state $StatePath), $t.Elapsed.TotalSeconds
            Write-Step "api and mcp stand-ins ready: $($summary['StandIn'])"
        }
        if ('Docker' -in $Want) {
            $t = [Diagnostics.Stopwatch]::StartNew()
            $detail = Complete-SandboxDocker $state $StatePath
            $summary['Docker'] = "{0} ({1:n1} s)" -f $detail, $t.Elapsed.TotalSeconds
            Write-Step "Docker: $($summary['Docker'])"
            Confirm-ServiceStarted 'Docker' $state.Docker
        }
        if ('Nginx' -in $Want) {
            $t = [Diagnostics.Stopwatch]::StartNew()
            $summary['Colors'] = "{0} ({1:n1} s)" -f (Start-SandboxColors $state $StatePath), $t.Elapsed.TotalSeconds
            Write-Step "blue and green ready: $($summary['Colors'])"
        }
        $ok = $true
    }
    finally {
        if (-not $ok) {
            Write-Warning 'Start failed; cleaning up the partial sandbox.'
            try { Stop-Sandbox $StatePath } catch { Write-Warning "cleanup: $($_.Exception.Message)" }
        }
    }
    Write-Step ("started in {0:n1} s; state: {1}" -f $sw.Elapsed.TotalSeconds, $StatePath)
    Show-Sandbox $state
}

function Show-Sandbox([System.Collections.IDictionary] $State) {
    # Human summary; never prints a password.
    $alive = $true
    $line = {
        param($name, $pidValue, $text)
        $status = if ($null -eq $pidValue) { '-' } elseif (Test-OwnedPid $pidValue $State['Root']) { "pid $pidValue up" } else { $script:anyDown = $true; "pid $pidValue DOWN" }
        Write-Host ('  {0,-9} {1,-16} {2}' -f $name, $status, $text)
    }
    $script:anyDown = $false
    Write-Host "  Root      $($State['Root'])"
    if ($app = Get-Section $State 'App') { Write-Host "  App       $($app['EnvFile'])" }
    if ($pg = Get-Section $State 'Postgres') {
        & $line 'Postgres' $pg['Pid'] ("127.0.0.1:{0} db={1} user={2} socket={3}" -f $pg['Port'], $pg['Database'], $pg['User'], $pg['SocketDir'])
    }
    if ($r = Get-Section $State 'Redis') { & $line 'Redis' $r['Pid'] "127.0.0.1:$($r['Port'])" }
    if ($d = Get-Section $State 'Docker') {
        $text = if ($d['Available']) { "$($d['Host']) image=$($d['Image']) driver=$($d['StorageDriver'])" } else { $e = ([string]$d['Error'] -replace '\s*\n\s*', ' | '); "unavailable: $($e.Substring(0, [Math]::Min(200, $e.Length)))" }
        & $line 'Docker' $(if ($d['Available']) { $d['Pid'] } else { $null }) $text
    }
    if ($n = Get-Section $State 'Nginx') {
        & $line 'Nginx' $n['Pid'] ("front :{0} blue :{1} green :{2} active={3}" -f $n['Port'], $n['BluePort'], $n['GreenPort'], $n['ActiveConf'])
        if ($c = Get-Section $State 'Colors') {
            foreach ($color in 'Blue', 'Green') {
                if ($s = Get-Section $c $color) { & $line $color $s['Pid'] ("127.0.0.1:{0} {1}" -f $s['Port'], $(if ($s['Service']) { "Swarm service $($s['Service'])" } else { 'busybox httpd' })) }
            }
        }
        if ($a = Get-Section $State 'Api') { & $line 'Api' $a['Pid'] "$($a['Url']) (stand-in)" }
        if ($m = Get-Section $State 'Mcp') { & $line 'Mcp' $m['Pid'] "$($m['Url']) (stand-in)" }
    }
    -not $script:anyDown
}

#endregion

# Dot-sourced (". ./Sandbox.ps1") without -Action: just define the functions, print nothing.
if (-not $Action) {
    if ($MyInvocation.InvocationName -eq '.') { return }
    throw 'Specify -Action Install|Start|Stop|Status (see Get-Help tests/Sandbox/Sandbox.ps1).'
}

if (-not $StateFile) {
    $StateFile = if ($env:PUO_SANDBOX_STATE) { $env:PUO_SANDBOX_STATE } else { Join-Path $script:RepoRoot 'out/sandbox/state.json' }
}
$StateFile = [IO.Path]::GetFullPath($StateFile)
$Services = @($Services -split '[,\s]+' | Where-Object { $_ } | ForEach-Object {
        $name = $_
        $match = @('Postgres', 'Redis', 'Docker', 'Nginx') | Where-Object { $_ -eq $name }
        if (-not $match) { throw "Unknown service '$name'. Valid: Postgres, Redis, Docker, Nginx." }
        $match
    } | Select-Object -Unique)
if (-not $Services) { throw 'Specify at least one service: Postgres, Redis, Docker, Nginx.' }

switch ($Action) {
    'Install' {
        if (-not $script:IsRoot) {
            $missing = Get-MissingPackage $Services
            if ($missing) { throw "Missing packages: $($missing -join ' '). Run as root: apt-get install -y $($missing -join ' ')" }
            Write-Step 'all packages present'
        }
        else { Install-Sandbox (@($Services) + 'Browser') }
    }
    'Start' { $null = Start-Sandbox $StateFile $Services }
    'Stop' { Stop-Sandbox $StateFile }
    'Status' {
        $state = Read-State $StateFile
        if (-not $state) { Write-Host "not running (no state at $StateFile)"; exit 1 }
        $up = Show-Sandbox $state
        if (-not $up -or -not (Test-Path -LiteralPath $state['Root'])) { Write-Host 'sandbox is NOT fully running'; exit 1 }
        Write-Host 'sandbox is running'
    }
}
