# Runbook: Incident Response / High CPU Usage ("identify heavy queries") and Database Connection Errors,
# as an operator composes them in pwsh with the built module against the sandbox PostgreSQL.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox
    $script:pg = (Get-PuoSandboxState).Postgres

    function Start-SlowPsql([string] $Application, [string] $Sql = 'SELECT pg_sleep(60)') {
        # A separate psql client, as a reporting job would be; the password only in its own environment.
        $start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
        '-h', $pg.Host, '-p', $pg.Port, '-U', $pg.User, '-d', $pg.Database, '-qAt', '-c', $Sql | ForEach-Object { $start.ArgumentList.Add([string]$_) }
        $start.Environment['PGPASSWORD'] = $pg.Password
        $start.Environment['PGAPPNAME'] = $Application
        $start.RedirectStandardError = $true
        $start.RedirectStandardOutput = $true
        $process = [System.Diagnostics.Process]::Start($start)
        # Wait until the server shows it running.
        foreach ($i in 1..100) {
            if (Get-PuoSlowQuery -MinimumDuration 0 | Where-Object Application -eq $Application) { break }
            Start-Sleep -Milliseconds 50
        }
        $process
    }

    function Stop-SlowPsql([System.Diagnostics.Process] $Process, [string] $Application) {
        # Killing the client alone would leave its backend sleeping on the server, where it holds back
        # REINDEX CONCURRENTLY and friends in later tests: end the backend too.
        if (-not $Process.HasExited) { $Process.Kill() }
        Get-PuoSlowQuery -MinimumDuration 0 | Where-Object Application -eq $Application | Stop-PuoQuery -Terminate -Confirm:$false | Out-Null
    }
}

Describe 'High CPU Usage: identify heavy queries and stop them' {
    It 'finds the slow session, -WhatIf leaves it running, then cancels it for real' {
        $app = "pester-slow-$(Get-Random)"
        $psql = Start-SlowPsql $app
        try {
            Start-Sleep -Milliseconds 1100
            $found = Get-PuoSlowQuery -MinimumDuration 00:00:01 | Where-Object Application -eq $app
            $found | Should -HaveCount 1
            $found.PSObject.TypeNames[0] | Should -Be 'PuoOps.SlowQuery'
            $found.Query | Should -Match 'pg_sleep'

            Get-PuoSlowQuery -MinimumDuration 00:00:01 | Where-Object Application -eq $app | Stop-PuoQuery -WhatIf | Should -BeNullOrEmpty
            $psql.WaitForExit(500) | Should -BeFalse

            $result = Get-PuoSlowQuery -MinimumDuration 00:00:01 | Where-Object Application -eq $app | Stop-PuoQuery -Confirm:$false
            $result.Signalled | Should -BeTrue
            $psql.WaitForExit(10000) | Should -BeTrue
            $psql.StandardError.ReadToEnd() | Should -Match 'canceling statement due to user request'
        }
        finally { Stop-SlowPsql $psql $app }
    }

    It '-Terminate ends the whole session' {
        $app = "pester-term-$(Get-Random)"
        $psql = Start-SlowPsql $app
        try {
            $result = Get-PuoSlowQuery -MinimumDuration 0 | Where-Object Application -eq $app | Stop-PuoQuery -Terminate -Confirm:$false
            $result.Action | Should -Be 'Terminate'
            $psql.WaitForExit(10000) | Should -BeTrue
            $psql.StandardError.ReadToEnd() | Should -Match 'terminat'
        }
        finally { Stop-SlowPsql $psql $app }
    }

    It 'never hangs on a confirmation prompt in a non-interactive host (scheduled task, Azure Automation)' {
        $app = "pester-noninteractive-$(Get-Random)"
        $psql = Start-SlowPsql $app
        try {
            $victim = Get-PuoSlowQuery -MinimumDuration 0 | Where-Object Application -eq $app
            $connection = Get-PuoSandboxConnection
            $script = "Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'; Connect-PuoEnvironment -Name s -DatabaseUrl '$($connection.DatabaseUrl)' -SkipCheck; Stop-PuoQuery -Pid $($victim.Pid)"
            $err = Join-Path $TestDrive 'child.err'
            $child = Start-Process dotnet -ArgumentList "$PSHOME/pwsh.dll", '-NoProfile', '-NonInteractive', '-Command', $script -PassThru `
                -RedirectStandardError $err -RedirectStandardOutput (Join-Path $TestDrive 'child.out')
            $child.WaitForExit(60000) | Should -BeTrue -Because 'a prompt in a non-interactive host must fail, not wait'
            Get-Content $err -Raw | Should -Match 'NonInteractive'
            $psql.HasExited | Should -BeFalse -Because 'nothing was confirmed, so nothing was cancelled'
        }
        finally { Stop-SlowPsql $psql $app }
    }
}

Describe 'Database Connection Errors: is the server up, and are we out of slots?' {
    It 'Test-PuoPostgres and Get-PuoConnectionStat report OK on the sandbox' {
        $checks = @(Test-PuoPostgres; Get-PuoConnectionStat)
        $checks | Should -HaveCount 2
        $checks | Where-Object Status -ne OK | Should -BeNullOrEmpty
        (Test-PuoPostgres -Quiet) | Should -BeTrue
    }

    It 'an unreachable server is a Critical check, and a connection error for the other cmdlets' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start(); $port = $listener.LocalEndpoint.Port; $listener.Stop()
        $down = Connect-PuoEnvironment -Name "down-$port" -DatabaseUrl "postgres://puo:pw@127.0.0.1:$port/puo_memo" -SkipCheck -NoDefault -PassThru
        try {
            (Test-PuoPostgres -Environment $down).Status | Should -Be 'Critical'
            Get-PuoConnectionStat -Environment $down -ErrorVariable failure -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
            $failure[0].CategoryInfo.Category | Should -Be 'ConnectionError'
            $failure[0].FullyQualifiedErrorId | Should -BeLike 'PuoOps.Postgres.Connect*'
        }
        finally { $down | Disconnect-PuoEnvironment -Confirm:$false }
    }
}
