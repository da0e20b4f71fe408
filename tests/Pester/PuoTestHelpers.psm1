<#
.SYNOPSIS
    Shared setup for the Pester suite: the built module ($env:PUO_MODULE_PATH) and the sandbox stack
    ($env:PUO_SANDBOX_STATE), both set by build.ps1 -Task Test. See tests/Pester/README.md.
#>
Set-StrictMode -Version Latest

function Import-PuoModule {
    # Imports the BUILT module into the caller's session (global scope), once.
    if (-not $env:PUO_MODULE_PATH -or -not (Test-Path $env:PUO_MODULE_PATH)) {
        throw 'PUO_MODULE_PATH does not name the built module (out/PuoOps/<version>); run build.ps1 -Task Test, or build and set it.'
    }
    if (-not (Get-Module PuoOps)) { Import-Module (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1') -Global -ErrorAction Stop }
}

function Get-PuoSandboxState {
    # The sandbox's state file (tests/Sandbox/README.md) as an object: ports, passwords, Docker.Available, Api.Url, Mcp.Url, App.EnvFile.
    if (-not $env:PUO_SANDBOX_STATE -or -not (Test-Path $env:PUO_SANDBOX_STATE)) {
        throw 'PUO_SANDBOX_STATE does not name a sandbox state file; run build.ps1 -Task Test, or tests/Sandbox/Sandbox.ps1 -Action Start and set it.'
    }
    Get-Content $env:PUO_SANDBOX_STATE -Raw | ConvertFrom-Json
}

function Get-PuoSandboxConnection {
    # Connect-PuoEnvironment's parameters for the sandbox, to splat in any runspace: Connect-PuoEnvironment @connection.
    param([string] $Name = 'sandbox')
    $state = Get-PuoSandboxState
    $connection = @{ Name = $Name }
    if ($state.Postgres) { $connection.DatabaseUrl = $state.Postgres.Url }
    if ($state.Redis) {
        $connection.RedisConnectionString = "redis://:$([uri]::EscapeDataString($state.Redis.Password))@$($state.Redis.Host):$($state.Redis.Port)/0"
    }
    if ($state.Docker) { $connection.DockerHost = $state.Docker.Host }
    if ($state.Api) { $connection.ApiUrl = $state.Api.Url }
    if ($state.Mcp) { $connection.McpUrl = $state.Mcp.Url }
    if ($state.Nginx) {
        $connection.NginxConfig = $state.Nginx.Conf
        # Blue-green: nginx's puo_active upstream in active.conf (the traffic file). The colours are found as the module finds
        # them, from the Swarm services labelled puo.color (and puo.upstream=puo_active) on the sandbox engine; a sandbox
        # without Docker runs them as processes, named here with -Color.
        $connection.TrafficFile = $state.Nginx.ActiveConf
        if ($state.Colors.Runner -ne 'Swarm') {
            $connection.Color = @{ blue = "127.0.0.1:$($state.Nginx.BluePort)"; green = "127.0.0.1:$($state.Nginx.GreenPort)" }
        }
    }
    if ($state.PSObject.Properties['App'] -and $state.App) { $connection.EnvFile = $state.App.EnvFile }
    $connection
}

function Connect-PuoSandbox {
    <#
    .SYNOPSIS
        Makes the sandbox the default environment (named -Name) and sets DATABASE_URL, REDIS_URL, DOCKER_HOST,
        PUO_API_URL and PUO_MCP_URL to its values for this process, as on a host of the stack. Imports the module first.
    #>
    param([string] $Name = 'sandbox', [switch] $PassThru)
    Import-PuoModule
    $connection = Get-PuoSandboxConnection -Name $Name
    $variables = @{ DatabaseUrl = 'DATABASE_URL'; RedisConnectionString = 'REDIS_URL'; DockerHost = 'DOCKER_HOST'; ApiUrl = 'PUO_API_URL'; McpUrl = 'PUO_MCP_URL' }
    foreach ($key in $variables.Keys) {
        [Environment]::SetEnvironmentVariable($variables[$key], $connection[$key])
    }
    Connect-PuoEnvironment @connection -Default -PassThru:$PassThru -ErrorAction Stop
}

function Start-PuoPsql {
    <#
    .SYNOPSIS
        Starts psql against the sandbox database as a separate client (as a reporting job would be) and returns its
        process, output redirected; the password is only in its own environment. -Wait waits for it and throws when it fails.
    #>
    param([Parameter(Mandatory)] [string] $Sql, [string] $Application = 'pester', [switch] $Wait)
    $pg = (Get-PuoSandboxState).Postgres
    $start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
    '-h', $pg.Host, '-p', $pg.Port, '-U', $pg.User, '-d', $pg.Database, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', $Sql | ForEach-Object { $start.ArgumentList.Add([string]$_) }
    $start.Environment['PGPASSWORD'] = $pg.Password
    $start.Environment['PGAPPNAME'] = $Application
    $start.RedirectStandardError = $true
    $start.RedirectStandardOutput = $true
    $process = [System.Diagnostics.Process]::Start($start)
    if (-not $Wait) { return $process }
    try {
        if (-not $process.WaitForExit(60000)) { $process.Kill(); throw "psql did not finish within 60 s: $Sql" }
        if ($process.ExitCode) { throw "psql failed ($Sql): $($process.StandardError.ReadToEnd())" }
    }
    finally { $process.Dispose() }
}

function Get-PuoSkipReason {
    <#
    .SYNOPSIS
        Why tests that need a sandbox service must be skipped ($null when they can run), printed once. Under CI=true
        this is always $null: a service the suite needs must run, so its tests fail instead of passing by being skipped.
    #>
    param([ValidateSet('Docker')] [string] $Service)
    $section = (Get-PuoSandboxState).$Service
    if ($env:CI -eq 'true' -or ($section -and $section.Available)) { return $null }
    $reason = "the sandbox has no $Service`: $(if ($section) { $section.Error } else { 'not started (-Services)' })"
    Write-Host "Skipping the tests that need $Service, because $reason" -ForegroundColor Yellow
    $reason
}

function Start-PuoPlainEngine {
    <#
    .SYNOPSIS
        Starts a Docker engine of the caller's own that is not a Swarm manager (the sandbox's engine is one), for the tests
        of a host without Swarm: a second dockerd with its own socket, data, exec root and pid file in a new temp folder,
        no bridge and no iptables (containers use the host network), and the sandbox's image loaded into it
        (docker save | docker load). Returns Host, Pid, Dir and Image; Stop-PuoPlainEngine stops it and removes the folder.
    #>
    $sandbox = (Get-PuoSandboxState).Docker
    $dir = (& mktemp -d /tmp/puo-plain-engine-XXXXXX)
    $engine = [pscustomobject]@{ Host = "unix://$dir/docker.sock"; Pid = 0; Dir = $dir; Image = $sandbox.Image }
    $log = "$dir/dockerd.log"
    $null = New-Item -ItemType Directory -Path "$dir/tmp"
    # setsid: its own session, stdio to the log; TMPDIR under the folder, so what its daemons leave goes with it.
    $engine.Pid = [int](& env "TMPDIR=$dir/tmp" DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 sh -c 'log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!' sh $log dockerd `
            --host $engine.Host --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" `
            --bridge=none --iptables=false --ip6tables=false --ip-masq=false)
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not (& docker -H $engine.Host version --format '{{.Server.Version}}' 2>$null)) {
            if (-not (Test-Path "/proc/$($engine.Pid)") -or [DateTime]::UtcNow -gt $deadline) {
                throw "The plain Docker engine did not start: $((Get-Content -LiteralPath $log -Tail 10 -ErrorAction Ignore) -join "`n")"
            }
            Start-Sleep -Milliseconds 200
        }
        $loaded = & sh -c 'docker -H "$1" save "$3" | docker -H "$2" load' sh $sandbox.Host $engine.Host $engine.Image 2>&1
        if ($LASTEXITCODE) { throw "Loading $($engine.Image) into the plain engine failed: $loaded" }
    }
    catch { Stop-PuoPlainEngine $engine; throw }
    $engine
}

function Stop-PuoPlainEngine {
    # Removes the engine's containers, stops its dockerd (and the containerd it runs) by pid, then deletes its folder.
    param([Parameter(Mandatory)] $Engine)
    $ids = @(& docker -H $Engine.Host ps -aq 2>$null | Where-Object { $_ })
    if ($ids) { $null = & docker -H $Engine.Host rm -f @ids 2>&1 }
    if ($Engine.Pid -and (Test-Path "/proc/$($Engine.Pid)")) {
        $null = & kill -TERM $Engine.Pid
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Test-Path "/proc/$($Engine.Pid)") -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        if (Test-Path "/proc/$($Engine.Pid)") { $null = & kill -KILL $Engine.Pid }
    }
    # What dockerd started (containerd, shims) names the folder on its command line: anything still running is ours.
    foreach ($proc in Get-ChildItem /proc -Directory | Where-Object Name -Match '^\d+$') {
        $cmdline = (Get-Content -LiteralPath "$($proc.FullName)/cmdline" -Raw -ErrorAction Ignore) -replace "`0", ' '
        if ($cmdline -and $cmdline.Contains("$($Engine.Dir)/")) { $null = & kill -KILL $proc.Name 2>&1 }
    }
    # dockerd unmounts what it mounted when it stops; whatever is left (a killed engine) is detached before deleting.
    foreach ($mount in @(Get-Content /proc/self/mountinfo | ForEach-Object { ($_ -split ' ')[4] } | Where-Object { $_.StartsWith("$($Engine.Dir)/") } | Sort-Object Length -Descending)) {
        $null = & umount -l $mount 2>&1
    }
    Remove-Item -LiteralPath $Engine.Dir -Recurse -Force -ErrorAction SilentlyContinue
}

Export-ModuleMember -Function Import-PuoModule, Get-PuoSandboxState, Get-PuoSandboxConnection, Connect-PuoSandbox, Start-PuoPsql, Get-PuoSkipReason, Start-PuoPlainEngine, Stop-PuoPlainEngine
