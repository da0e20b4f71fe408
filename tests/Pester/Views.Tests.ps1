# Every cmdlet's real output against the sandbox, rendered by its default view at 80 columns (a console's width, and
# Out-String's when the host has none): no line wider than 80, no table header wrapped into a column of letters, no
# column empty in every row, no cut message, and durations in the module's one form (2m05s), never 0.00:00.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    # What each cmdlet is run as. Each output is made real: a slow and a blocked query (ended before anything else
    # waits behind their locks: ending the holder lets the waiter finish), a Redis slow-log entry, a switch.
    $script:cases = @(
        @{ Cmdlet = 'Connect-PuoEnvironment'; Script = 'Connect-PuoEnvironment @views -PassThru' }
        @{ Cmdlet = 'Get-PuoEnvironment'; Script = 'Get-PuoEnvironment' }
        @{ Cmdlet = 'Test-PuoPostgres'; Script = 'Test-PuoPostgres' }
        @{ Cmdlet = 'Get-PuoSlowQuery'; Script = 'Get-PuoSlowQuery -MinimumDuration 0s | Where-Object Application -like views-*' }
        @{ Cmdlet = 'Get-PuoBlockingQuery'; Script = 'Get-PuoBlockingQuery' }
        @{ Cmdlet = 'Stop-PuoQuery'; Script = 'Get-PuoSlowQuery -MinimumDuration 0s | Where-Object Application -in views-slow, views-holder | Stop-PuoQuery -Terminate -Confirm:$false; Wait-Until { -not (Get-PuoSlowQuery -MinimumDuration 0s | Where-Object Application -like views-*) } ''the ended sessions''' }
        @{ Cmdlet = 'Get-PuoConnectionStat'; Script = 'Get-PuoConnectionStat' }
        @{ Cmdlet = 'Get-PuoQueryPlan'; Script = "Get-PuoQueryPlan `"SELECT * FROM memories WHERE content LIKE '%tag7%' ORDER BY created_at DESC LIMIT 20`"" }
        @{ Cmdlet = 'Invoke-PuoAnalyze'; Script = 'Invoke-PuoAnalyze -Table memories' }
        @{ Cmdlet = 'Invoke-PuoVacuum'; Script = 'Invoke-PuoVacuum -Table memories, audit_logs -Analyze' }
        @{ Cmdlet = 'Get-PuoMaintenanceStatus'; Script = 'Get-PuoMaintenanceStatus' }
        @{ Cmdlet = 'Get-PuoTableSize'; Script = 'Get-PuoTableSize' }
        @{ Cmdlet = 'Get-PuoIndexUsage'; Script = 'Get-PuoIndexUsage' }
        @{ Cmdlet = 'Get-PuoIndexBloat'; Script = 'Get-PuoIndexBloat' }
        @{ Cmdlet = 'Invoke-PuoReindex'; Script = 'Invoke-PuoReindex -Index alembic_version_pkc -Confirm:$false' }
        @{ Cmdlet = 'Invoke-PuoPrewarm'; Script = 'Invoke-PuoPrewarm -Table audit_logs' }
        @{ Cmdlet = 'Test-PuoRedis'; Script = 'Test-PuoRedis' }
        @{ Cmdlet = 'Get-PuoRedisInfo'; Script = 'Get-PuoRedisInfo' }
        @{ Cmdlet = 'Get-PuoRedisInfo'; Script = 'Get-PuoRedisInfo -Section memory' }
        @{ Cmdlet = 'Get-PuoRedisConfig'; Script = 'Get-PuoRedisConfig maxmemory*' }
        @{ Cmdlet = 'Get-PuoCacheKey'; Script = 'Get-PuoCacheKey puo:* -First 5' }
        @{ Cmdlet = 'Get-PuoCacheKey'; Script = 'Get-PuoCacheKey puo:* -First 5 -Detailed' }
        @{ Cmdlet = 'Get-PuoBigKey'; Script = 'Get-PuoBigKey -First 5' }
        @{ Cmdlet = 'Clear-PuoCache'; Script = "Clear-PuoCache -Pattern 'views:nothing:*' -Confirm:`$false" }
        @{ Cmdlet = 'Get-PuoRedisSlowLog'; Script = 'Get-PuoRedisSlowLog -First 3' }
        @{ Cmdlet = 'Get-PuoContainer'; Script = 'Get-PuoContainer' }
        @{ Cmdlet = 'Get-PuoContainerStats'; Script = 'Get-PuoContainerStats' }
        @{ Cmdlet = 'Restart-PuoService'; Script = "Restart-PuoService mcp -Wait -WaitTimeout 60s -Confirm:`$false" }
        @{ Cmdlet = 'Set-PuoServiceScale'; Script = "Set-PuoServiceScale -Service mcp -Replicas 2 -Confirm:`$false; Set-PuoServiceScale -Service mcp -Replicas 1 -Confirm:`$false" }
        @{ Cmdlet = 'Get-PuoServiceLog'; Script = 'Get-PuoServiceLog -Service api -Tail 3' }
        @{ Cmdlet = 'Get-PuoServiceLog'; Script = 'Get-PuoServiceLog -Service api -Tail 3 -Timestamps' }
        @{ Cmdlet = 'Get-PuoImage'; Script = 'Get-PuoImage' }
        @{ Cmdlet = 'Test-PuoHealth'; Script = 'Test-PuoHealth' }
        @{ Cmdlet = 'Get-PuoMetric'; Script = 'Get-PuoMetric | Where-Object Name -like http_*' }
        @{ Cmdlet = 'Measure-PuoLatency'; Script = 'Measure-PuoLatency -Url "$env:PUO_API_URL/health" -Count 20 -Concurrency 2' }
        @{ Cmdlet = 'Get-PuoProcess'; Script = 'Get-PuoProcess -Service api, mcp' }
        @{ Cmdlet = 'Invoke-PuoDiagnostic'; Script = 'Invoke-PuoDiagnostic -BackupPath $work' }
        @{ Cmdlet = 'Search-PuoLog'; Script = 'Search-PuoLog -Path $work/performance_metrics.log -SlowerThan 1s' }
        @{ Cmdlet = 'Find-PuoAuthFailure'; Script = 'Find-PuoAuthFailure -Path $work/access.log' }
        @{ Cmdlet = 'Find-PuoAuthFailure'; Script = 'Find-PuoAuthFailure -Path $work/access.log -Raw' }
        @{ Cmdlet = 'Backup-PuoDatabase'; Script = 'Backup-PuoDatabase -Path $work/backups -Table alembic_version -Confirm:$false' }
        @{ Cmdlet = 'Get-PuoBackup'; Script = 'Get-PuoBackup -Path $work/backups' }
        @{ Cmdlet = 'Test-PuoBackup'; Script = 'Get-PuoBackup -Path $work/backups -Latest | Test-PuoBackup' }
        @{ Cmdlet = 'Test-PuoBackup'; Script = 'Get-PuoBackup -Path $work/backups -Latest | Test-PuoBackup -Restore -Confirm:$false' }
        @{ Cmdlet = 'Test-PuoDiskSpace'; Script = 'Test-PuoDiskSpace -Path $work' }
        @{ Cmdlet = 'Get-PuoMigrationVersion'; Script = 'Get-PuoMigrationVersion' }
        @{ Cmdlet = 'Block-PuoIpAddress'; Script = "Block-PuoIpAddress 192.0.2.77 -Reason 'views test' -Confirm:`$false" }
        @{ Cmdlet = 'Get-PuoBlockedIpAddress'; Script = 'Get-PuoBlockedIpAddress 192.0.2.77' }
        @{ Cmdlet = 'Unblock-PuoIpAddress'; Script = 'Unblock-PuoIpAddress 192.0.2.77 -Confirm:$false' }
        @{ Cmdlet = 'Get-PuoAuditLog'; Script = 'Get-PuoAuditLog -First 5' }
        @{ Cmdlet = 'Get-PuoAffectedUser'; Script = 'Get-PuoAffectedUser -Since 30d -First 5' }
        @{ Cmdlet = 'Save-PuoIncidentEvidence'; Script = 'Save-PuoIncidentEvidence -LogPath $work/access.log -Table audit_logs -Destination $work/evidence -Confirm:$false' }
        @{ Cmdlet = 'Test-PuoSecretEnvironment'; Script = 'Test-PuoSecretEnvironment' }
        @{ Cmdlet = 'Reset-PuoApiKey'; Script = 'Reset-PuoApiKey -Environment views -Confirm:$false' }
        @{ Cmdlet = 'Update-PuoClientConfig'; Script = 'Update-PuoClientConfig -Environment views -Client Cursor -ProjectPath $work/project -Confirm:$false' }
        @{ Cmdlet = 'Publish-PuoDeployment'; Script = 'Publish-PuoDeployment -Color green -Image puo-busybox:latest -Confirm:$false' }
        @{ Cmdlet = 'Get-PuoTrafficState'; Script = 'Get-PuoTrafficState' }
        @{ Cmdlet = 'Switch-PuoTraffic'; Script = 'Switch-PuoTraffic -To green -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 0 -MinReloadInterval 0s -Confirm:$false' }
        @{ Cmdlet = 'Get-PuoDeploymentHistory'; Script = 'Get-PuoDeploymentHistory -First 3' }
    )
    # Cmdlets whose output is not rendered here, each with why; the rest of the suite runs them.
    $script:notRendered = @{
        'Disconnect-PuoEnvironment' = 'writes nothing'
        'Stop-PuoService'           = 'writes PuoOps.ServiceChange, rendered through Restart-PuoService'
        'Start-PuoService'          = 'writes PuoOps.ServiceChange, rendered through Restart-PuoService'
        'Restore-PuoBackup'         = 'replaces the sandbox database other tests read (Backup.Tests.ps1 restores a scratch one)'
        'Invoke-PuoMigration'       = 'runs alembic, which the sandbox does not have (Backup tests use a stand-in)'
    }
    $script:exported = @(Get-Command -Module PuoOps -CommandType Cmdlet | ForEach-Object Name)
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $state = Get-PuoSandboxState
    $work = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'work')).FullName
    $null = New-Item -ItemType Directory -Path "$work/project", "$work/backups"

    # A second environment for the cmdlets that rewrite files: the sandbox with a copy of its .env.
    Copy-Item -LiteralPath $state.App.EnvFile -Destination "$work/project/.env"
    $views = Get-PuoSandboxConnection -Name views
    $views.EnvFile = "$work/project/.env"

    # Logs in the runbook's formats.
    $now = [DateTimeOffset]::UtcNow
    @(
        "$($now.ToString('yyyy-MM-dd HH:mm:ss')),120 INFO performance op=memory.search duration=85ms status=ok"
        "$($now.ToString('yyyy-MM-dd HH:mm:ss')),400 INFO performance op=memory.store duration=1450ms status=ok request=12345 user=user_42 path=/api/memories/search"
    ) | Set-Content -LiteralPath "$work/performance_metrics.log"
    $stamp = $now.ToString('dd/MMM/yyyy:HH:mm:ss +0000', [cultureinfo]::InvariantCulture)
    @(
        "203.0.113.7 - - [$stamp] `"POST /api/auth/login HTTP/1.1`" 401 52 `"-`" `"python-requests/2.31`""
        "2001:db8::1 - - [$stamp] `"GET /api/memories HTTP/1.1`" 403 40 `"-`" `"curl/8.5.0`""
    ) | Set-Content -LiteralPath "$work/access.log"

    function Wait-Until([scriptblock] $Condition, [string] $What) {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out waiting for $What." }
            Start-Sleep -Milliseconds 100
        }
    }
    # A slow query, and a lock on a scratch table held by a transaction with a query waiting behind it.
    $script:lockTable = "views_lock_$(Get-Random -Maximum 1000000)"
    Start-PuoPsql -Wait "CREATE TABLE $lockTable (id int)"
    $script:clients = @(
        Start-PuoPsql 'SELECT pg_sleep(120)' -Application views-slow
        Start-PuoPsql "BEGIN; LOCK TABLE $lockTable IN ROW EXCLUSIVE MODE; SELECT pg_sleep(120)" -Application views-holder
    )
    Wait-Until { Get-PuoSlowQuery -MinimumDuration 0s | Where-Object Application -eq views-holder } 'the lock holder'
    $script:clients += Start-PuoPsql "BEGIN; LOCK TABLE $lockTable IN ACCESS EXCLUSIVE MODE; COMMIT" -Application views-waiter
    Wait-Until { Get-PuoBlockingQuery } 'the blocked query'

    # A Redis slow-log entry: log every command for a moment, then put the threshold back.
    $redisCli = { & redis-cli -h $state.Redis.Host -p $state.Redis.Port --no-auth-warning -a $state.Redis.Password @args }
    $threshold = (& $redisCli CONFIG GET slowlog-log-slower-than)[1]
    $null = & $redisCli CONFIG SET slowlog-log-slower-than 0
    $null = & $redisCli SCAN 0 MATCH 'puo:*' COUNT 1000
    $null = & $redisCli CONFIG SET slowlog-log-slower-than $threshold

    function Get-ViewProblem([string] $Text) {
        # What is wrong with a rendered view at 80 columns; nothing when it reads well.
        $lines = $Text -split '\r?\n'
        foreach ($line in $lines | Where-Object Length -GT 80) { "wider than 80 columns ($($line.Length)): $line" }
        foreach ($match in [regex]::Matches($Text, '\b\d+\.\d\d:\d\d(:\d\d)?\b')) { "a duration in TimeSpan's own form: $($match.Value)" }
        for ($i = 1; $i -lt $lines.Count; $i++) {
            if ($lines[$i] -notmatch '^[ -]*-[ -]*$' -or $lines[$i - 1] -notmatch '\S') { continue }
            # A table: $lines[$i] underlines the header line above it; the rows follow until a blank line.
            $spans = [regex]::Matches($lines[$i], '-+') | ForEach-Object { [pscustomobject]@{ Start = $_.Index; Length = $_.Length } }
            if ($i -ge 2 -and $lines[$i - 2] -match '\S') { "a header that wraps onto several lines: $($lines[$i - 2]) / $($lines[$i - 1])" }
            $rows = @($lines[($i + 1)..($lines.Count - 1)] | ForEach-Object -Begin { $done = $false } -Process { if ($_ -notmatch '\S') { $done = $true }; if (-not $done) { $_ } })
            for ($c = 0; $c -lt $spans.Count; $c++) {
                $start = $spans[$c].Start
                $end = if ($c + 1 -lt $spans.Count) { $spans[$c + 1].Start } else { [int]::MaxValue }
                $label = $lines[$i - 1].Substring($start, [Math]::Min($lines[$i - 1].Length, $start + $spans[$c].Length) - $start).Trim()
                $cells = @($rows | ForEach-Object { if ($_.Length -gt $start) { $_.Substring($start, [Math]::Min($_.Length, $end) - $start).Trim() } else { '' } })
                if (-not ($cells -match '\S')) { "column '$label' is empty in every row" }
                if ($label -in 'Message', 'Detail', 'Query', 'Summary', 'Line' -and ($cells -match '…$')) { "column '$label' is cut: $($cells -match '…$')" }
            }
        }
    }
}

AfterAll {
    # The server's backends first (a killed psql leaves its pg_sleep running), then the clients and the scratch table.
    Get-PuoSlowQuery -MinimumDuration 0s | Where-Object Application -like 'views-*' | Stop-PuoQuery -Terminate -Confirm:$false -ErrorAction SilentlyContinue
    foreach ($client in $clients) { if (-not $client.HasExited) { $client.Kill() }; $client.Dispose() }
    Start-PuoPsql -Wait "DROP TABLE IF EXISTS $lockTable"
    $null = Switch-PuoTraffic -To blue -HealthyProbes 1 -AnalysisRequests 0 -MonitorSec 0 -MinReloadInterval 0s -Confirm:$false -ErrorAction SilentlyContinue
    Disconnect-PuoEnvironment -Name views -ErrorAction SilentlyContinue
}

Describe 'Default views at 80 columns' {
    It 'every exported cmdlet is rendered here, or says why not' {
        $covered = @($cases.Cmdlet) + @($notRendered.Keys)
        $exported | Where-Object { $_ -notin $covered } | Should -BeNullOrEmpty
    }

    It '<Script>' -ForEach $cases {
        $output = @(Invoke-Expression $Script)
        $output | Should -Not -BeNullOrEmpty -Because 'a view is only checked on real rows'
        $output | ForEach-Object { $_.PSObject.TypeNames[0] } | Should -Match '^PuoOps\.' -Because 'each record is one of the module''s types, with its view'
        $text = $output | Out-String -Width 80
        Get-ViewProblem $text | Should -BeNullOrEmpty -Because "at 80 columns it reads:`n$text"
    }
}

Describe 'The view checker' {
    It 'finds <Problem>' -ForEach @(
        @{ Problem = 'a wide line'; Text = "A`n-`n$('x' * 81)"; Expected = 'wider than 80*' }
        @{ Problem = 'an empty column'; Text = "Name Ttl`n---- ---`nkey1    `nkey2"; Expected = "column 'Ttl' is empty in every row" }
        @{ Problem = 'a header of vertical letters'; Text = "Name Do`n     ck`n---- --`nx    u…"; Expected = 'a header that wraps*' }
        @{ Problem = 'a raw TimeSpan'; Text = "Age`n---`n0.00:00"; Expected = "a duration in TimeSpan's own form: 0.00:00" }
        @{ Problem = 'a cut message'; Text = "Status Message`n------ -------`nOK     Accepting connecti…"; Expected = "column 'Message' is cut*" }
    ) {
        Get-ViewProblem $Text | Should -BeLike $Expected
    }
}
