# Runbook: Database Maintenance (daily VACUUM ANALYZE, table sizes), Index Maintenance (weekly unused indexes,
# rebuild bloated ones) and Slow Search Queries, as an operator composes them in pwsh with the built module.
# Every test works on its own scratch tables in the shared sandbox database and drops them.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox
    $script:pg = (Get-PuoSandboxState).Postgres

    function Invoke-Psql([string] $Sql) {
        # The runbook's own client; the password only in its environment.
        $env:PGPASSWORD = $pg.Password
        try { $Sql | & (Join-Path $pg.BinDir 'psql') -X -qAt -v ON_ERROR_STOP=1 -h $pg.Host -p $pg.Port -U $pg.User -d $pg.Database }
        finally { Remove-Item Env:PGPASSWORD }
        if ($LASTEXITCODE -ne 0) { throw "psql failed: $Sql" }
    }

    function Start-Psql([string] $Sql) {
        # A separate psql client session running -Sql in the background; the password only in its own environment.
        $start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
        '-X', '-qAt', '-h', $pg.Host, '-p', $pg.Port, '-U', $pg.User, '-d', $pg.Database, '-c', $Sql | ForEach-Object { $start.ArgumentList.Add([string]$_) }
        $start.Environment['PGPASSWORD'] = $pg.Password
        $start.RedirectStandardError = $true
        $start.RedirectStandardOutput = $true
        [System.Diagnostics.Process]::Start($start)
    }

    function New-ScratchTable([int] $Rows = 1000) {
        $name = "pester_maint_$(Get-Random)"
        Invoke-Psql "CREATE TABLE $name (id int PRIMARY KEY, val int, note text); INSERT INTO $name SELECT g, g, md5(g::text) FROM generate_series(1, $Rows) g;"
        $name
    }
}

Describe 'Daily maintenance: VACUUM ANALYZE and table sizes' {
    BeforeAll { $script:table = New-ScratchTable 3000 }
    AfterAll { Invoke-Psql "DROP TABLE IF EXISTS $table" }

    It 'finds the dead tuples an update left and vacuums exactly the flagged table' {
        Invoke-Psql "UPDATE $table SET val = val + 1;"
        foreach ($i in 1..50) {
            if ((Get-PuoMaintenanceStatus -Table $table).DeadTuples -ge 3000) { break }
            Start-Sleep -Milliseconds 100
        }
        $status = Get-PuoMaintenanceStatus -Table $table
        $status.Status | Should -Be 'Critical'
        $status.DeadPercent | Should -BeGreaterOrEqual 40

        $result = Get-PuoMaintenanceStatus -Table $table | Where-Object Status -ne OK | Invoke-PuoVacuum -Analyze
        $result.PSObject.TypeNames[0] | Should -Be 'PuoOps.MaintenanceResult'
        $result.Table | Should -Be $table
        $result.DeadTuplesBefore | Should -BeGreaterOrEqual 3000
        (Get-PuoMaintenanceStatus -Table $table).LastVacuum | Should -Not -BeNullOrEmpty
    }

    It 'lists table sizes largest first, and the database row carries the wraparound status' {
        $sizes = Get-PuoTableSize
        $sizes[0].Table | Should -Be 'memories'
        ($sizes.TotalBytes | Sort-Object -Descending) | Should -Be $sizes.TotalBytes
        $database = Get-PuoMaintenanceStatus | Where-Object Scope -eq Database
        $database.Database | Should -Be 'puo_memo'
        $database.Status | Should -Be 'OK'
    }

    It 'reports a hostile table name as not found and vacuums the real one in the same call' {
        $result = Invoke-PuoVacuum -Table 'memories"; DROP TABLE users; --', $table -ErrorVariable failures -ErrorAction SilentlyContinue
        $failures | Should -HaveCount 1
        $failures[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $result.Table | Should -Be $table
        Get-PuoTableSize -Table memories | Should -HaveCount 1
    }
}

Describe 'Weekly index maintenance: unused and bloated indexes' {
    # REINDEX CONCURRENTLY waits for every older transaction in the database, not only the table's; other test
    # files leave server-side pg_sleep(60) backends behind for up to a minute, so the rebuilds may wait that long.
    BeforeAll {
        $script:table = New-ScratchTable 40000
        Invoke-Psql "CREATE INDEX ${table}_unused ON $table (val); CREATE UNIQUE INDEX ${table}_uq ON $table (note);"
    }
    AfterAll { Invoke-Psql "DROP TABLE IF EXISTS $table" }

    It 'warns that young statistics make -Unused unreliable, then finds only the droppable unused index and rebuilds it' {
        $null = Get-PuoIndexUsage -Table $table -Unused -WarningVariable young -WarningAction SilentlyContinue -ErrorAction Stop
        "$young" | Should -Match 'only cover .* may be in use'
        $unused = Get-PuoIndexUsage -Table $table -Unused -Force
        $unused.Index | Should -Be "${table}_unused"
        $rebuilt = $unused | Invoke-PuoReindex -LockTimeout 00:02:00 -Confirm:$false
        $rebuilt.Index | Should -Be "${table}_unused"
        $rebuilt.Concurrently | Should -BeTrue
        Get-PuoIndexUsage -Invalid -Table $table | Should -BeNullOrEmpty
    }

    It 'detects a bloated index and the rebuild shrinks it' {
        Invoke-Psql "DELETE FROM $table WHERE id % 10 <> 0;"
        Invoke-Psql "VACUUM ANALYZE $table;"
        $bloat = Get-PuoIndexBloat -Table $table -Index "${table}_unused"
        $bloat.Status | Should -Be 'Critical'
        $rebuilt = Get-PuoIndexBloat -Table $table | Where-Object Status -eq Critical | Where-Object Index -eq "${table}_unused" | Invoke-PuoReindex -LockTimeout 00:02:00 -Confirm:$false
        $rebuilt.SizeBytesAfter | Should -BeLessThan $rebuilt.SizeBytesBefore
    }
}

Describe 'Slow search queries: plans, blocking, warm cache' {
    BeforeAll { $script:table = New-ScratchTable 500 }
    AfterAll { Invoke-Psql "DROP TABLE IF EXISTS $table" }

    It 'EXPLAIN ANALYZE of a DELETE is refused, its plan shown, and every row stays in place' {
        { Get-PuoQueryPlan "DELETE FROM $table WHERE val > 0" -ErrorAction Stop } | Should -Throw -ErrorId 'PuoOps.Postgres.QueryPlanReadOnly*'
        $plan = Get-PuoQueryPlan "DELETE FROM $table WHERE val > 0" -NoAnalyze
        $plan.RootNode | Should -Be 'ModifyTable'
        ($plan.Json | ConvertFrom-Json)[0].Plan.'Node Type' | Should -Be 'ModifyTable'
        (Get-PuoQueryPlan "SELECT * FROM $table WHERE val > 0").Execution | Should -BeGreaterThan ([timespan]::Zero)
        Invoke-Psql "SELECT count(*) FROM $table" | Should -Be '500'
    }

    It 'shows a blocking chain made by two psql sessions and stops its root through Stop-PuoQuery' {
        $holder = Start-Psql "BEGIN; LOCK TABLE $table IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(60); COMMIT;"
        Start-Sleep -Milliseconds 500
        $waiter = Start-Psql "SELECT count(*) FROM $table"
        try {
            $rows = $null
            foreach ($i in 1..50) {
                $rows = Get-PuoBlockingQuery | Where-Object { $_.Query -like "*$table*" }
                if (@($rows | Where-Object { $_.BlockedBy.Count -gt 0 }).Count -ge 1) { break }
                Start-Sleep -Milliseconds 100
            }
            $blocked = $rows | Where-Object { $_.BlockedBy.Count -gt 0 }
            $root = $rows | Where-Object IsRootBlocker
            $blocked.RootBlocker | Should -Be $root.Pid
            $blocked.Chain | Should -Be @($root.Pid, $blocked.Pid)

            $stopped = Get-PuoBlockingQuery -RootOnly | Where-Object Pid -eq $root.Pid | Stop-PuoQuery -Confirm:$false
            $stopped.Signalled | Should -BeTrue
            $waiter.WaitForExit(10000) | Should -BeTrue
        }
        finally { foreach ($p in $holder, $waiter) { if (-not $p.HasExited) { $p.Kill() } } }
    }

    It 'warms the table and its index into shared buffers' {
        $warm = Invoke-PuoPrewarm -Table $table
        ($warm | Where-Object Kind -eq Table).Blocks | Should -BeGreaterThan 0
        ($warm | Where-Object Kind -eq Index).Relation | Should -Be "${table}_pkey"
    }
}
