<#
.SYNOPSIS
    What the hidden ```setup, ```check and ```cleanup blocks of the help examples (docs/cmdlets/*.md) share, so each
    block says what situation it builds or asserts, not how. Help.Tests.ps1 imports it into every example's runspace;
    the example's own code (what Get-Help shows) must not use it, since an operator's shell does not have it.

    Like the blocks, these read the sandbox the way an operator on its host would: the default environment and
    DATABASE_URL, REDIS_URL, PUO_API_URL (set by the test). Nothing here prints a password or key.
#>
Set-StrictMode -Version Latest

# The psql sessions Start-PsqlSession started in this runspace (each example has its own), for Stop-PsqlSession.
$Sessions = [System.Collections.Generic.List[object]]::new()

function Wait-Condition {
    <#
    .SYNOPSIS
        Runs -Condition until it returns something true and returns that value; throws when -TimeoutSec passes first.
        E.g. $holderPid = Wait-Condition { (Get-PuoSlowQuery -MinimumDuration 0 | Where-Object Application -eq $app).Pid }
    #>
    param([Parameter(Mandatory)] [scriptblock] $Condition, [int] $TimeoutSec = 30)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSec)
    while ($true) {
        $value = & $Condition
        if ($value) { return $value }
        if ([DateTime]::UtcNow -ge $deadline) { throw "Not true within $TimeoutSec s: {$Condition}" }
        Start-Sleep -Milliseconds 200
    }
}

function Get-WhatIfTarget {
    # The targets named in "What if:" lines ($WhatIf), in order: what the example would have changed.
    param([AllowEmptyCollection()] [string[]] $WhatIf)
    foreach ($line in $WhatIf) { [regex]::Match($line, 'on target "([^"]*)"').Groups[1].Value }
}

# --- PostgreSQL ---------------------------------------------------------------------------------------------------------

function Start-PsqlSession {
    <#
    .SYNOPSIS
        Starts psql in the background as a client named -Application (default: a new puo-example-* name), running each
        -Command in turn; stdout is discarded, stderr goes to the returned object's ErrorLog file. Returns
        Application, Process and ErrorLog. Stop-PsqlSession ends it.
    #>
    param([Parameter(Mandatory)] [string[]] $Command, [string] $Application = "puo-example-$PID-$(Get-Random)")
    $errorLog = Join-Path ([IO.Path]::GetTempPath()) "puo-example-psql-$(New-Guid).txt"
    $arguments = @("$env:DATABASE_URL`?application_name=$Application") + @($Command | ForEach-Object { '-c', "`"$_`"" })
    $process = Start-Process psql -ArgumentList $arguments -PassThru -RedirectStandardOutput /dev/null -RedirectStandardError $errorLog
    $session = [pscustomobject]@{ Application = $Application; Process = $process; ErrorLog = $errorLog }
    $Sessions.Add($session)
    $session
}

function Start-SlowQuery {
    <#
    .SYNOPSIS
        A session running SELECT pg_sleep(60), returned once Get-PuoSlowQuery lists it as running for at least
        -MinimumSeconds; its backend pid is .Pid. Stop-PsqlSession ends it.
    #>
    param([string] $Application = "puo-example-$PID-$(Get-Random)", [int] $MinimumSeconds = 6)
    $session = Start-PsqlSession 'SELECT pg_sleep(60)' -Application $Application
    $backend = Wait-Condition -TimeoutSec ($MinimumSeconds + 30) {
        Get-PuoSlowQuery -MinimumDuration ([timespan]::FromSeconds($MinimumSeconds)) | Where-Object Application -eq $Application
    }
    $session | Add-Member -PassThru -NotePropertyName Pid -NotePropertyValue $backend.Pid
}

function Start-IdleTransaction {
    <#
    .SYNOPSIS
        A session that opens a transaction, runs -Statement in it, then sits idle in it (psql runs a shell command),
        returned once Get-PuoSlowQuery -IncludeIdleInTransaction lists it idle for at least -MinimumSeconds; its backend
        pid is .Pid. Stop-PsqlSession ends it.
    #>
    param([string] $Statement = 'SELECT 1', [int] $MinimumSeconds = 6)
    $session = Start-PsqlSession 'BEGIN', $Statement, '\! exec sleep 60'
    $backend = Wait-Condition -TimeoutSec ($MinimumSeconds + 30) {
        Get-PuoSlowQuery -MinimumDuration ([timespan]::FromSeconds($MinimumSeconds)) -IncludeIdleInTransaction |
            Where-Object { $_.Application -eq $session.Application -and $_.State -like 'idle in transaction*' }
    }
    $session | Add-Member -PassThru -NotePropertyName Pid -NotePropertyValue $backend.Pid
}

function Start-LockWait {
    <#
    .SYNOPSIS
        Two sessions of one application: a holder that takes an advisory lock and sleeps, and a waiter blocked on that
        lock, returned once Get-PuoBlockingQuery shows the wait. Returns Application and HolderPid (the holder's backend).
        Stop-PsqlSession ends both.
    #>
    $lock = Get-Random -Minimum 100000 -Maximum 999999
    $holder = Start-PsqlSession "SELECT pg_advisory_lock($lock), pg_sleep(60)"
    $holderPid = Wait-Condition {
        Get-PuoSlowQuery -MinimumDuration 0 | Where-Object { $_.Application -eq $holder.Application -and $_.Query -like '*pg_sleep*' } | ForEach-Object Pid
    }
    $null = Start-PsqlSession "SELECT pg_advisory_lock($lock)" -Application $holder.Application
    $null = Wait-Condition { Get-PuoBlockingQuery | Where-Object { $_.Application -eq $holder.Application -and $_.BlockedBy.Count -gt 0 } }
    [pscustomobject]@{ Application = $holder.Application; HolderPid = $holderPid }
}

function Stop-PsqlSession {
    <#
    .SYNOPSIS
        Ends every session Start-PsqlSession (and the Start-* above) started in this runspace: terminates their backends,
        stops psql and the shell commands it runs, removes the error logs. For cleanup blocks.
    #>
    $applications = @($Sessions | ForEach-Object { "'$($_.Application)'" } | Sort-Object -Unique) -join ', '
    if ($applications) {
        # A waiter gets its lock and ends by itself once the holder is gone, so the server may warn that a pid is no
        # backend any more: not a failure of the cleanup.
        $null = psql $env:DATABASE_URL -XAtqc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ($applications)" 2>$null
    }
    foreach ($session in $Sessions) {
        # psql's `\! exec sleep` child goes with it.
        Get-Process | Where-Object { $_.Parent -and $_.Parent.Id -eq $session.Process.Id } | ForEach-Object { Stop-Process -Id $_.Id -ErrorAction SilentlyContinue }
        Stop-Process -Id $session.Process.Id -ErrorAction SilentlyContinue
        Remove-Item -LiteralPath $session.ErrorLog -ErrorAction SilentlyContinue
    }
    $Sessions.Clear()
}

function New-TableWithDeadRows {
    <#
    .SYNOPSIS
        A scratch table (autovacuum off) of 10,000 rows of which -DeadRows are deleted, returned (its name) once the
        server's statistics count them. Remove-ScratchTable drops it.
    #>
    param([Parameter(Mandatory)] [int] $DeadRows)
    $table = "puo_example_dead_$(Get-Random)"
    psql $env:DATABASE_URL -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE $table (id int) WITH (autovacuum_enabled = false); INSERT INTO $table SELECT generate_series(1, 10000);" -c "DELETE FROM $table WHERE id <= $DeadRows"
    if ($LASTEXITCODE) { throw "psql could not create the scratch table $table." }
    $null = Wait-Condition { (Get-PuoMaintenanceStatus -Table $table).DeadTuples -ge $DeadRows }
    $table
}

function New-TableWithUnusedIndex {
    <#
    .SYNOPSIS
        A scratch table of 1,000 rows with a primary key and an index <table>_v nothing has scanned yet; returns its
        name. Remove-ScratchTable drops it.
    #>
    $table = "puo_example_unused_$(Get-Random)"
    psql $env:DATABASE_URL -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE $table (id int PRIMARY KEY, v int); INSERT INTO $table SELECT g, g FROM generate_series(1, 1000) g; CREATE INDEX ${table}_v ON $table (v);"
    if ($LASTEXITCODE) { throw "psql could not create the scratch table $table." }
    $table
}

function Remove-ScratchTable {
    # Drops a scratch table made by the setup, if it got that far.
    param([string] $Table)
    if ($Table) { $null = psql $env:DATABASE_URL -qX -c "DROP TABLE IF EXISTS $Table" }
}

function Get-RelationFileNode {
    # The file a table or index is stored in: a REINDEX or VACUUM FULL gives it a new one, so an unchanged value
    # proves nothing was rebuilt.
    param([Parameter(Mandatory)] [string] $Relation)
    psql $env:DATABASE_URL -Atqc "SELECT pg_relation_filenode('$Relation')"
}

# --- Redis ----------------------------------------------------------------------------------------------------------------

function Get-UrlPassword {
    # The password in a connection URL such as DATABASE_URL or REDIS_URL (redis://:password@host:port/0), unescaped.
    param([Parameter(Mandatory)] [string] $Url)
    $userInfo = ([uri]$Url).UserInfo
    [uri]::UnescapeDataString($userInfo.Substring($userInfo.IndexOf(':') + 1))
}

function Invoke-RedisCli {
    <#
    .SYNOPSIS
        redis-cli against REDIS_URL with the arguments given, e.g. Invoke-RedisCli --scan --pattern 'puo:*'. The
        password goes in REDISCLI_AUTH for this call only, never on a command line.
    #>
    $redis = [uri]$env:REDIS_URL
    $database = $redis.AbsolutePath.Trim('/')
    $previous = $env:REDISCLI_AUTH
    $env:REDISCLI_AUTH = Get-UrlPassword $env:REDIS_URL
    try { redis-cli -h $redis.Host -p $redis.Port -n $(if ($database) { $database } else { 0 }) --no-auth-warning @args }
    finally { $env:REDISCLI_AUTH = $previous }
}

function Get-RedisKeyCount {
    # How many keys match -Pattern, counted by redis-cli --scan.
    param([Parameter(Mandatory)] [string] $Pattern)
    @(Invoke-RedisCli --scan --pattern $Pattern).Count
}

function Invoke-SlowRedisCommand {
    # A Lua loop that runs longer than slowlog-log-slower-than (10 ms), with -Marker as its argument so its slow-log
    # entry can be found.
    param([Parameter(Mandatory)] [string] $Marker)
    $null = Invoke-RedisCli EVAL 'local i = 0 while i < 5000000 do i = i + 1 end return ARGV[1]' 0 $Marker
}

# --- nginx deny list ------------------------------------------------------------------------------------------------------

function Get-BlockListPath {
    # The deny list Block-PuoIpAddress writes, beside the default environment's nginx.conf.
    Join-Path (Split-Path (Get-PuoEnvironment -Default).NginxConfig) puo-blocklist.conf
}

function Get-NginxReloadCount {
    # How many graceful reloads (SIGHUP) nginx has logged: one more after each change that reloads it.
    $errorLog = Join-Path (Split-Path (Get-PuoEnvironment -Default).NginxConfig) logs/error.log
    @(Select-String -LiteralPath $errorLog -SimpleMatch 'signal 1 (SIGHUP) received').Count
}

function Remove-Block {
    # Lifts whatever blocks cover -Address (addresses or networks), so an example starts from, and leaves, a list
    # without them. Does nothing for addresses that are not blocked.
    param([Parameter(Mandatory)] [string[]] $Address)
    $entries = @($Address | Get-PuoBlockedIpAddress -ErrorAction SilentlyContinue)
    if ($entries) { $null = $entries | Unblock-PuoIpAddress -Confirm:$false }
}

# --- The application: its .env, client configs, API stand-in, Docker services, traffic ---------------------------------

function Get-ApiKey {
    # API_KEY as the default environment's .env file holds it; a secret, so only compare it, never output it.
    $match = Select-String -LiteralPath (Get-PuoEnvironment -Default).EnvFile -Pattern '^\s*(?:export\s+)?API_KEY\s*=\s*[''"]?([^\s''"#]+)'
    $match.Matches[0].Groups[1].Value
}

function Hide-CursorConfig {
    <#
    .SYNOPSIS
        Sets the project's Cursor config (.cursor beside the .env file) aside, so the example starts without one.
        Returns Path (the .cursor folder) and Aside; Restore-CursorConfig puts it back.
    #>
    $cursorDir = Join-Path (Split-Path (Get-PuoEnvironment -Default).EnvFile) '.cursor'
    $hidden = [pscustomobject]@{ Path = $cursorDir; Aside = "$cursorDir.aside-$(New-Guid)" }
    if (Test-Path $cursorDir) { Move-Item $cursorDir $hidden.Aside }
    $hidden
}

function Restore-CursorConfig {
    # Removes the Cursor config the example wrote and puts back the one Hide-CursorConfig set aside.
    param($Hidden)
    if (-not $Hidden) { return }
    Remove-Item $Hidden.Path -Recurse -Force -ErrorAction SilentlyContinue
    if (Test-Path $Hidden.Aside) { Move-Item $Hidden.Aside $Hidden.Path }
}

function Set-ApiStandIn {
    # Makes the sandbox's API answer /health with -Status, or every request -DelayMs late; Reset-ApiStandIn undoes it.
    param([int] $Status, [int] $DelayMs)
    $query = @(if ($Status) { "status=$Status" }; if ($DelayMs) { "delayMs=$DelayMs" }) -join '&'
    $null = Invoke-RestMethod -Method Post "$env:PUO_API_URL/_standin?$query"
}

function Reset-ApiStandIn {
    # The sandbox's API healthy and fast again.
    $null = Invoke-RestMethod -Method Post "$env:PUO_API_URL/_standin"
}

function New-ScratchService {
    <#
    .SYNOPSIS
        A compose service "scratch" of the project puo-memo with two containers, puo-memo-scratch-1 and -2 (healthy
        until the file /tmp/sick exists; their command removes it on start), running or with -Stopped stopped.
        Returns the container names; Remove-ScratchService removes them.
    #>
    param([switch] $Stopped)
    foreach ($n in 1, 2) {
        $name = "puo-memo-scratch-$n"
        $null = docker run -d --name $name --network none --stop-timeout 1 --label com.docker.compose.project=puo-memo `
            --label com.docker.compose.service=scratch --label "com.docker.compose.container-number=$n" --label com.docker.compose.oneoff=False `
            --health-cmd 'test ! -f /tmp/sick' --health-interval 1s --health-retries 1 puo-busybox:latest `
            sh -c 'rm -f /tmp/sick; trap "exit 0" TERM; while true; do sleep 1 & wait $!; done'
        if ($LASTEXITCODE) { throw "docker run could not start $name." }
        if ($Stopped) { $null = docker stop $name }
        $name
    }
}

function Remove-ScratchService {
    # Removes the containers of the scratch service, whatever state they are in.
    $containers = @(docker ps -aq --filter label=com.docker.compose.service=scratch --filter label=com.docker.compose.project=puo-memo)
    if ($containers) { $null = docker rm -f $containers }
}

function Reset-TrafficToBlue {
    # Makes blue the live colour, as the sandbox starts, switching back if an earlier example left green live.
    if ((Get-PuoTrafficState).ActiveColor -ne 'blue') { $null = Switch-PuoTraffic -To blue -MonitorSec 0 -Confirm:$false }
}

Export-ModuleMember -Function Wait-Condition, Get-WhatIfTarget, Start-PsqlSession, Start-SlowQuery, Start-IdleTransaction, Start-LockWait,
    Stop-PsqlSession, New-TableWithDeadRows, New-TableWithUnusedIndex, Remove-ScratchTable, Get-RelationFileNode,
    Get-UrlPassword, Invoke-RedisCli, Get-RedisKeyCount, Invoke-SlowRedisCommand, Get-BlockListPath, Get-NginxReloadCount,
    Remove-Block, Get-ApiKey, Hide-CursorConfig, Restore-CursorConfig, Set-ApiStandIn, Reset-ApiStandIn,
    New-ScratchService, Remove-ScratchService, Reset-TrafficToBlue
