# The operator on call usually holds a monitoring role, not the owner's: the sandbox's PostgreSQL role puo_monitor
# (pg_monitor and pg_signal_backend only) and its Redis ACL user puo_monitor (what the read cmdlets and
# Clear-PuoCache -Pattern need; no EVAL, FLUSHDB, FLUSHALL, KEYS or CONFIG SET). Every read works or warns what it
# cannot see; every change it may not make is a PermissionDenied error naming the privilege, and changes nothing.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $state = Get-PuoSandboxState
    $script:pg = $state.Postgres
    $script:redis = $state.Redis
    $script:oncall = Connect-PuoEnvironment -Name "oncall-$(Get-Random)" -DatabaseUrl $pg.Monitor.Url -RedisConnectionString $redis.Monitor.Url -NoDefault -PassThru

    function Invoke-Psql([string] $Sql) {
        # psql as the sandbox's superuser (the owner's side of the story); the password only in its own environment.
        $env:PGPASSWORD = $pg.Password
        try { & (Join-Path $pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database -c $Sql }
        finally { Remove-Item Env:PGPASSWORD }
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $Sql" }
    }

    function Invoke-RedisCli([string[]] $Arguments, [switch] $AsMonitor, [string] $InputText) {
        # The password goes through REDISCLI_AUTH, never on a command line.
        $user = if ($AsMonitor) { @('--user', $redis.Monitor.User) } else { @() }
        $env:REDISCLI_AUTH = if ($AsMonitor) { $redis.Monitor.Password } else { $redis.Password }
        try {
            if ($InputText) { $InputText | redis-cli -h 127.0.0.1 -p $redis.Port --no-auth-warning @user @Arguments 2>&1 }
            else { redis-cli -h 127.0.0.1 -p $redis.Port --no-auth-warning @user @Arguments 2>&1 }
        }
        finally { Remove-Item Env:REDISCLI_AUTH }
    }

    function Start-SlowPsql([string] $Application, [string] $User = $pg.User, [string] $Password = $pg.Password) {
        # A client session of another role, as an application's would be; waits until the server shows it running.
        $start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
        '-X', '-h', $pg.Host, '-p', $pg.Port, '-U', $User, '-d', $pg.Database, '-qAt', '-c', 'SELECT pg_sleep(60)' | ForEach-Object { $start.ArgumentList.Add([string]$_) }
        $start.Environment['PGPASSWORD'] = $Password
        $start.Environment['PGAPPNAME'] = $Application
        $start.RedirectStandardError = $true
        $start.RedirectStandardOutput = $true
        $process = [System.Diagnostics.Process]::Start($start)
        for ($i = 0; $i -lt 200 -and -not (Invoke-Psql "SELECT 1 FROM pg_stat_activity WHERE application_name = '$Application' AND state = 'active'"); $i++) {
            Start-Sleep -Milliseconds 50
        }
        $process
    }

    function Stop-SlowPsql([System.Diagnostics.Process] $Process, [string] $Application) {
        if (-not $Process.HasExited) { $Process.Kill() }
        $null = Invoke-Psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '$Application'"
        $Process.WaitForExit()
        $Process.Dispose()
    }

    function Invoke-OnCall([scriptblock] $Script) {
        # Runs $Script, collecting what an operator would see: output, errors and warnings, without stopping on them.
        $ErrorActionPreference = 'Continue'
        $WarningPreference = 'Continue'
        $all = try { @(& $Script 2>&1 3>&1) } catch { @($_) }
        [pscustomobject]@{
            Output   = @($all | Where-Object { $_ -isnot [Management.Automation.ErrorRecord] -and $_ -isnot [Management.Automation.WarningRecord] })
            Errors   = @($all | Where-Object { $_ -is [Management.Automation.ErrorRecord] })
            Warnings = @($all | Where-Object { $_ -is [Management.Automation.WarningRecord] } | ForEach-Object Message)
        }
    }
}

AfterAll {
    $oncall | Disconnect-PuoEnvironment -Confirm:$false
}

Describe 'The sandbox''s on-call users' {
    It 'the PostgreSQL role is no superuser, owns nothing, and holds only pg_monitor and pg_signal_backend' {
        $role = $pg.Monitor.User
        Invoke-Psql "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = '$role'" | Should -Be 'f|f|f'
        Invoke-Psql "SELECT count(*) FROM pg_class WHERE relowner = '$role'::regrole" | Should -Be 0
        Invoke-Psql "SELECT count(*) FROM pg_database WHERE datdba = '$role'::regrole" | Should -Be 0
        Invoke-Psql "SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = '$role'::regrole" |
            Should -Be 'pg_monitor,pg_signal_backend'
    }

    It 'the Redis user is refused <_>' -ForEach @('EVAL "return 1" 0', 'FLUSHDB', 'FLUSHALL', 'KEYS puo:config:version', 'CONFIG SET maxmemory 1gb') {
        $words = [regex]::Matches($_, '"[^"]*"|\S+') | ForEach-Object { $_.Value.Trim('"') }
        "$(Invoke-RedisCli $words -AsMonitor)" | Should -Match '^NOPERM'
    }
}

Describe 'Reads on call: every read cmdlet works, or warns what it cannot see' {
    It '<Name> works without an error or a warning' -ForEach @(
        @{ Name = 'Get-PuoConnectionStat'; Some = $true }, @{ Name = 'Get-PuoIndexUsage'; Some = $true }
        @{ Name = 'Get-PuoMaintenanceStatus'; Some = $true }, @{ Name = 'Get-PuoTableSize'; Some = $true }
        @{ Name = 'Test-PuoPostgres'; Some = $true }, @{ Name = 'Get-PuoBlockingQuery'; Some = $false }
        @{ Name = 'Get-PuoRedisInfo'; Some = $true }, @{ Name = 'Get-PuoRedisConfig'; Some = $true }
        @{ Name = 'Get-PuoRedisSlowLog'; Some = $false }, @{ Name = 'Get-PuoCacheKey'; Some = $true }
        @{ Name = 'Get-PuoBigKey'; Some = $true }, @{ Name = 'Test-PuoRedis'; Some = $true }) {
        $result = Invoke-OnCall { & $Name -Environment $oncall }
        $result.Errors | ForEach-Object { "$_" } | Should -BeNullOrEmpty
        $result.Warnings | Should -BeNullOrEmpty
        if ($Some) { $result.Output | Should -Not -BeNullOrEmpty }
        $result.Output | Where-Object { $_.PSObject.Properties['Status'] -and $Name -like 'Test-*' } | ForEach-Object { "$($_.Status)" } | Should -Not -Contain 'Critical'
    }

    It 'Get-PuoSlowQuery and Get-PuoCacheKey -Detailed see other roles'' sessions and every key''s type' {
        $app = "pester-oncall-read-$(Get-Random)"
        $psql = Start-SlowPsql $app
        try {
            $slow = Invoke-OnCall { Get-PuoSlowQuery -Environment $oncall -MinimumDuration 0 }
            $mine = $slow.Output | Where-Object Application -eq $app
            $mine | Should -HaveCount 1
            $mine.Query | Should -Match 'pg_sleep'
            $mine.User | Should -Be $pg.User
            $slow.Warnings | Should -BeNullOrEmpty
        }
        finally { Stop-SlowPsql $psql $app }
        $keys = Invoke-OnCall { Get-PuoCacheKey -Environment $oncall -Pattern 'puo:session:*' -Detailed -First 5 }
        $keys.Output | Should -HaveCount 5
        $keys.Output.Type | Should -Not -Contain $null
        $keys.Output | ForEach-Object { $_.MemoryBytes | Should -BeGreaterThan 0 }
    }

    It 'Get-PuoIndexBloat marks the indexes of tables it may not read Unknown, and the warning names them and the privilege' {
        $asOwner = Get-PuoIndexBloat -Table memories -Index memories_pkey
        $asOwner.Status | Should -Not -Be 'Unknown'
        $result = Invoke-OnCall { Get-PuoIndexBloat -Environment $oncall -Table memories }
        $result.Errors | Should -BeNullOrEmpty
        ($result.Output | Where-Object Index -eq memories_pkey).Status | Should -Be 'Unknown'
        $result.Warnings | Should -HaveCount 1
        $result.Warnings[0] | Should -Match 'public\.memories'
        $result.Warnings[0] | Should -Match 'SELECT'
    }

    It '<Name> of a table it may not read fails with PermissionDenied naming the table and SELECT' -ForEach @(
        @{ Name = 'Get-PuoQueryPlan'; Script = { Get-PuoQueryPlan -Environment $oncall -Query 'SELECT count(*) FROM memories' }; Table = 'memories' }
        @{ Name = 'Get-PuoMigrationVersion'; Script = { Get-PuoMigrationVersion -Environment $oncall }; Table = 'alembic_version' }) {
        $result = Invoke-OnCall $Script
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].Exception.Message | Should -Match "permission denied for table $Table"
        $result.Errors[0].Exception.Message | Should -Match 'SELECT'
    }
}

Describe 'Changes on call: what the role may not do fails with PermissionDenied naming the privilege, and changes nothing' {
    BeforeAll {
        function Get-Relfilenode([string] $Relation) { Invoke-Psql "SELECT pg_relation_filenode('$Relation')" }
        function Get-MaintenanceCounts([string] $Table) {
            Invoke-Psql "SELECT vacuum_count || ',' || analyze_count FROM pg_stat_user_tables WHERE relname = '$Table'"
        }
    }

    It 'VACUUM FULL of a table it does not own: the server''s skip warning is the error, not a success record' {
        $before = Get-Relfilenode memories
        $result = Invoke-OnCall { Invoke-PuoVacuum -Environment $oncall -Table memories -Full -Confirm:$false }
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Postgres.PermissionDenied,*'
        $result.Errors[0].Exception.Message | Should -Match 'only table or database owner can vacuum it'
        $result.Errors[0].Exception.Message | Should -Match "table's owner"
        Get-Relfilenode memories | Should -Be $before
    }

    It '<Name> of a table it does not own fails the same way and runs nothing' -ForEach @(
        @{ Name = 'VACUUM'; Script = { Invoke-PuoVacuum -Environment $oncall -Table audit_logs -Confirm:$false }; Says = 'only table or database owner can vacuum it' }
        @{ Name = 'VACUUM (ANALYZE)'; Script = { Invoke-PuoVacuum -Environment $oncall -Table audit_logs -Analyze -Confirm:$false }; Says = 'only table or database owner can vacuum it' }
        @{ Name = 'ANALYZE'; Script = { Invoke-PuoAnalyze -Environment $oncall -Table audit_logs -Confirm:$false }; Says = 'only table or database owner can analyze it' }) {
        $before = Get-MaintenanceCounts audit_logs
        $result = Invoke-OnCall $Script
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].Exception.Message | Should -Match $Says
        Get-MaintenanceCounts audit_logs | Should -Be $before
    }

    It 'REINDEX of an index it does not own' {
        $before = Get-Relfilenode idx_audit_logs_created_at
        $result = Invoke-OnCall { Invoke-PuoReindex -Environment $oncall -Index idx_audit_logs_created_at -Confirm:$false }
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].Exception.Message | Should -Match 'must be owner of index idx_audit_logs_created_at'
        Get-Relfilenode idx_audit_logs_created_at | Should -Be $before
        Invoke-Psql "SELECT count(*) FROM pg_class WHERE relname LIKE 'idx_audit_logs_created_at_cc%'" | Should -Be 0
    }

    It 'pg_prewarm of a table it may not read' {
        $result = Invoke-OnCall { Invoke-PuoPrewarm -Environment $oncall -Table audit_logs -Confirm:$false }
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].Exception.Message | Should -Match 'permission denied for table audit_logs'
        $result.Errors[0].Exception.Message | Should -Match 'SELECT'
    }

    It 'a backup of a table it cannot read writes nothing' {
        $dir = New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-oncall-backup-$(Get-Random)")
        try {
            $result = Invoke-OnCall { Backup-PuoDatabase -Environment $oncall -Path $dir.FullName -Table memories }
            $result.Output | Should -BeNullOrEmpty
            $result.Errors | Should -HaveCount 1
            $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
            $result.Errors[0].Exception.Message | Should -Match 'needs SELECT on every table it dumps'
            $result.Errors[0].Exception.Message | Should -Match 'public\.memories'
            $result.Errors[0].Exception.Message | Should -Match $pg.Monitor.User
            Get-ChildItem -Force $dir | Should -BeNullOrEmpty
        }
        finally { Remove-Item -LiteralPath $dir -Recurse -Force }
    }

    It 'FLUSHDB' {
        $before = Invoke-RedisCli @('DBSIZE')
        $result = Invoke-OnCall { Clear-PuoCache -Environment $oncall -Force -Confirm:$false }
        $result.Output | Should -BeNullOrEmpty
        $result.Errors | Should -HaveCount 1
        $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
        $result.Errors[0].Exception.Message | Should -Match "'flushdb'"
        Invoke-RedisCli @('DBSIZE') | Should -Be $before
    }

    It 'Stop-PuoQuery of a superuser''s backend: the query runs on' {
        $app = "pester-oncall-super-$(Get-Random)"
        $psql = Start-SlowPsql $app
        try {
            $result = Invoke-OnCall { Get-PuoSlowQuery -Environment $oncall -MinimumDuration 0 | Where-Object Application -eq $app | Stop-PuoQuery -Terminate -Confirm:$false }
            $result.Output | Should -BeNullOrEmpty
            $result.Errors | Should -HaveCount 1
            $result.Errors[0].CategoryInfo.Category | Should -Be 'PermissionDenied'
            $result.Errors[0].Exception.Message | Should -Match 'superuser'
            $psql.WaitForExit(500) | Should -BeFalse
        }
        finally { Stop-SlowPsql $psql $app }
    }
}

Describe 'What the on-call users may do' {
    It 'Clear-PuoCache -Pattern deletes in client-side SCAN + UNLINK batches where EVAL is denied, and says so' {
        $prefix = "pester-oncall-$(Get-Random)"
        $null = Invoke-RedisCli @() -InputText ((1..1500 | ForEach-Object { "SET ${prefix}:cache:$_ v" }) + (1..20 | ForEach-Object { "SET ${prefix}:keep:$_ v" }) -join "`n")
        try {
            $whatIf = Clear-PuoCache -Environment $oncall -Pattern "${prefix}:cache:*" -WhatIf
            $whatIf.Scanned | Should -Be 1500
            $verbose = Clear-PuoCache -Environment $oncall -Pattern "${prefix}:cache:*" -BatchSize 500 -Confirm:$false -Verbose 4>&1
            $cleared = $verbose | Where-Object { $_ -isnot [Management.Automation.VerboseRecord] }
            $cleared.Deleted | Should -Be 1500
            (($verbose | Where-Object { $_ -is [Management.Automation.VerboseRecord] }).Message -join "`n") | Should -Match 'EVAL is not allowed'
            @(Invoke-RedisCli @('--scan', '--pattern', "${prefix}:cache:*")).Count | Should -Be 0
            @(Invoke-RedisCli @('--scan', '--pattern', "${prefix}:keep:*")).Count | Should -Be 20
        }
        finally {
            $left = @(Invoke-RedisCli @('--scan', '--pattern', "${prefix}:*"))
            if ($left) { $null = Invoke-RedisCli @() -InputText (($left | ForEach-Object { "DEL $_" }) -join "`n") }
        }
    }

    It 'Stop-PuoQuery cancels, then terminates, the backends of another non-superuser role' {
        $role = "pester_app_$(Get-Random)"
        $password = [Convert]::ToHexString([Security.Cryptography.RandomNumberGenerator]::GetBytes(16))
        Invoke-Psql "CREATE ROLE $role LOGIN PASSWORD '$password'"
        try {
            $app = "pester-oncall-app-$(Get-Random)"
            $psql = Start-SlowPsql $app -User $role -Password $password
            try {
                $stopped = Get-PuoSlowQuery -Environment $oncall -MinimumDuration 0 | Where-Object Application -eq $app | Stop-PuoQuery -Confirm:$false
                $stopped.Signalled | Should -BeTrue
                $psql.WaitForExit(10000) | Should -BeTrue
                $psql.StandardError.ReadToEnd() | Should -Match 'canceling statement due to user request'
            }
            finally { Stop-SlowPsql $psql $app }

            $app = "pester-oncall-app-$(Get-Random)"
            $psql = Start-SlowPsql $app -User $role -Password $password
            try {
                $ended = Get-PuoSlowQuery -Environment $oncall -MinimumDuration 0 | Where-Object Application -eq $app | Stop-PuoQuery -Terminate -Confirm:$false
                $ended.Signalled | Should -BeTrue
                $psql.WaitForExit(10000) | Should -BeTrue
                $psql.StandardError.ReadToEnd() | Should -Match 'terminat'
            }
            finally { Stop-SlowPsql $psql $app }
        }
        finally { Invoke-Psql "DROP ROLE $role" }
    }
}
