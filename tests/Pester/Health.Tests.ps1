# The runbook's health, metrics and latency procedures as pipelines in pwsh, against the sandbox stack. Tests that
# make a sandbox stand-in unhealthy, hung or stalling put it back to healthy in AfterEach (Pester runs them one by one).
BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox -Name 'pester-health'
    $script:State = Get-PuoSandboxState
    $script:Pwsh = @((Join-Path $PSHOME 'pwsh.dll'), '-NoProfile', '-NonInteractive')

    function Set-StandIn([string] $Url, [string] $Query = '') {
        # POST /_standin?... changes how the stand-in answers; no query makes it healthy again.
        $null = Invoke-RestMethod -Method Post -Uri "$Url/_standin$Query"
    }

    function Invoke-ChildPwsh([string[]] $Prefix, [string] $Script) {
        # The module in a new pwsh, started through $Prefix (unshare, setpriv); its last line of output is JSON.
        $command = "`$ErrorActionPreference = 'Stop'; Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'; $Script"
        $output = & $Prefix[0] @($Prefix | Select-Object -Skip 1) dotnet @script:Pwsh -Command $command 2>&1
        if ($LASTEXITCODE -ne 0) { throw "The child pwsh failed (exit $LASTEXITCODE):`n$($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }
}

AfterAll {
    Get-PuoEnvironment -Name 'pester-health' -ErrorAction Ignore | Disconnect-PuoEnvironment -Confirm:$false
}

Describe 'Health Check Failures' {
    AfterEach {
        Set-StandIn $State.Api.Url
        Set-StandIn $State.Mcp.Url
    }

    It 'curl -f API, curl -f MCP, pg_isready, redis-cli ping, docker: every check of a healthy stack is OK' {
        $checks = Test-PuoHealth -WarningLatency 30s   # not about answer time: a loaded machine may be slow on a first call
        $checks.Component | Should -Be @('Api', 'Mcp', 'Postgres', 'Redis', 'Docker')
        @($checks | Where-Object Status -ne OK | Where-Object { $_.Component -ne 'Docker' -or $State.Docker.Available }) | Should -BeNullOrEmpty
        $checks[0].Target | Should -Be "$($State.Api.Url)/health"
        $checks[1].Target | Should -Be "$($State.Mcp.Url)/health"
        Test-PuoHealth -Quiet | Should -Be ([bool]$State.Docker.Available)
    }

    It 'an API that answers 500 is Critical with the reason, and OK again once it recovers' {
        Set-StandIn $State.Api.Url '?status=500&body={"error":"db pool exhausted"}'
        $down = Test-PuoHealth -Component Api, Mcp -WarningLatency 30s
        $down[0].Status | Should -Be 'Critical'
        $down[0].Detail | Should -Be 'HTTP 500 Internal Server Error, expected 2xx. Body: {"error":"db pool exhausted"}'
        $down[1].Status | Should -Be 'OK'
        Test-PuoHealth -Component Api, Mcp -Quiet | Should -BeFalse
        Set-StandIn $State.Api.Url
        (Test-PuoHealth -Component Api -WarningLatency 30s).Status | Should -Be 'OK'
    }

    It 'a /health body that is not what it should say is Critical' {
        Set-StandIn $State.Mcp.Url '?body={"status":"degraded","db":"down"}'
        $check = Test-PuoHealth -Component Mcp
        $check.Status | Should -Be 'Critical'
        $check.Detail | Should -Be 'HTTP 200 OK, but status is "degraded", expected "ok", "healthy", "up", "pass".'
    }

    It 'a hung MCP is Critical at -TimeoutSec while the other checks report on their own time' {
        Set-StandIn $State.Mcp.Url '?hang=true'
        $checks = Test-PuoHealth -Component Api, Mcp, Postgres, Redis -TimeoutSec 2 -WarningLatency 30s
        $mcp = $checks | Where-Object Component -eq Mcp
        $mcp.Status | Should -Be 'Critical'
        $mcp.Detail | Should -BeLike 'No answer within 2 s.*'
        foreach ($other in $checks | Where-Object Component -ne Mcp) {
            $other.Status | Should -Be 'OK'
            $other.Latency | Should -BeLessThan ([timespan]::FromSeconds(1.5))
        }
    }

    It 'a slow API is a Warning, which -Quiet still counts as up' {
        Set-StandIn $State.Api.Url '?delayMs=300'
        $check = Test-PuoHealth -Component Api -WarningLatency 100ms
        $check.Status | Should -Be 'Warning'
        $check.Detail | Should -BeLike 'Slow: answered in * ms, over 100 ms.*'
        Test-PuoHealth -Component Api -WarningLatency 100ms -Quiet | Should -BeTrue
    }

    It 'Where-Object Status -ne OK works across HTTP, PostgreSQL and Redis checks alike' {
        Set-StandIn $State.Api.Url '?status=503'
        $failing = @(Test-PuoHealth -Component Api, Postgres, Redis -WarningLatency 30s | Where-Object Status -ne OK)
        $failing.Component | Should -Be @('Api')
        @(Test-PuoPostgres; Test-PuoRedis; Test-PuoHealth -Component Mcp -WarningLatency 30s) | Where-Object Status -ne OK | Should -BeNullOrEmpty
    }
}

Describe 'Errors and bad input' {
    It 'a host name that does not resolve is a Critical check naming the host (in a network namespace of its own)' {
        if ((& id -u) -ne '0') {
            Set-ItResult -Skipped -Because 'a network namespace (unshare --net) needs root'
            return
        }
        # No route at all in the namespace: the DNS lookup fails at once and nothing leaves this machine.
        $check = Invoke-ChildPwsh @('unshare', '--net', '--') @'
Connect-PuoEnvironment -Name dns -SkipCheck
Test-PuoHealth -Component @() -Url 'http://puo-nowhere.invalid/health' -TimeoutSec 10 | Select-Object @{ n = 'Component'; e = { "$($_.Component)" } }, @{ n = 'Status'; e = { "$($_.Status)" } }, Detail | ConvertTo-Json -Compress
'@
        $check.Component | Should -Be 'Url'
        $check.Status | Should -Be 'Critical'
        $check.Detail | Should -Be "http://puo-nowhere.invalid/health: the host name 'puo-nowhere.invalid' does not resolve (DNS lookup failed). Check the URL and the resolver."
    }

    It 'an unreadable saved scrape is PermissionDenied naming the file' {
        $file = Join-Path ([IO.Path]::GetTempPath()) "puo-scrape-$([guid]::NewGuid().ToString('N')).txt"
        Set-Content -Path $file -Value 'up 1'
        [IO.File]::SetUnixFileMode($file, [IO.UnixFileMode]::None)
        try {
            $probe = "try { Get-PuoMetric -Path '$file' } catch { [pscustomobject]@{ Id = `$_.FullyQualifiedErrorId; Category = `"`$(`$_.CategoryInfo.Category)`"; Target = `$_.TargetObject; Message = `$_.Exception.Message } | ConvertTo-Json -Compress }"
            # Root reads any file; without the two capabilities that let it, root is held to the file's mode like anyone.
            $prefix = if ((& id -u) -eq '0') { @('setpriv', '--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', '--') } else { @('env') }
            $failure = Invoke-ChildPwsh $prefix $probe
            $failure.Id | Should -Be 'PuoOps.Metrics.FileAccess,PuoOps.Commands.Health.GetPuoMetricCommand'
            $failure.Category | Should -Be 'PermissionDenied'
            $failure.Target | Should -Be $file
            $failure.Message | Should -Be "The saved scrape $file cannot be read by this user: permission denied."
        }
        finally { Remove-Item -LiteralPath $file -Force }
    }

    It 'a TLS endpoint with an untrusted certificate is Critical, not an exception' {
        # The sandbox has no https endpoint; Test-PuoHealth -Url against the xUnit suite's TLS stand-ins covers the
        # certificate cases. Here: an https URL to a plain-http port, a TLS failure of another kind.
        $check = Test-PuoHealth -Component @() -Url ($State.Api.Url -replace '^http:', 'https:') -TimeoutSec 5
        $check.Status | Should -Be 'Critical'
        $check.Detail | Should -BeLike "https://127.0.0.1:*/: *"
    }
}

Describe 'Performance Degradation: curl http://localhost:8000/metrics' {
    It 'reads the API metrics as objects, with the histogram usable for percentiles' {
        $null = Test-PuoHealth -Component Api
        $metrics = Get-PuoMetric
        ($metrics | Where-Object Name -eq http_requests_total | Where-Object { $_.Labels.path -eq '/health' }).Value | Should -BeGreaterThan 0
        $histogram = $metrics | Where-Object Type -eq histogram
        $histogram.Name | Should -Be 'http_request_duration_seconds'
        $histogram.Quantile(0.99) | Should -BeGreaterThan 0
        $histogram.Quantile(0.99) | Should -BeLessOrEqual $histogram.Buckets[-2].UpperBound
        ($metrics | Where-Object Type -eq summary).Quantiles.Quantile | Should -Be @(0.5, 0.9, 0.99)
    }

    It 'reads an OpenMetrics scrape saved to a file' {
        $file = Join-Path ([IO.Path]::GetTempPath()) "puo-om-$([guid]::NewGuid().ToString('N')).txt"
        Set-Content -Path $file -Value "# TYPE jobs counter`n# UNIT jobs_seconds seconds`njobs_total 4 1700000000.25 # {trace_id=`"abc`"} 1`njobs_created 1699999000`n# EOF"
        try {
            $jobs = Get-PuoMetric -Path $file -WarningVariable warnings
            $warnings | Should -BeNullOrEmpty
            $jobs.Name | Should -Be 'jobs_total'
            $jobs.Type | Should -Be 'counter'
            $jobs.Timestamp | Should -Be ([DateTimeOffset]::FromUnixTimeMilliseconds(1700000000250))
            $jobs.Created | Should -Be ([DateTimeOffset]::FromUnixTimeSeconds(1699999000))
            $jobs.Exemplar.Labels.trace_id | Should -Be 'abc'
        }
        finally { Remove-Item -LiteralPath $file }
    }
}

Describe 'High Latency: P99 latency > 1s' {
    AfterEach { Set-StandIn $State.Api.Url }

    It 'a stall of the API shows in the open loop P99 and hides from the closed loop' {
        Set-StandIn $State.Api.Url '?stallMs=200&periodMs=1000'
        $open = Measure-PuoLatency -Rate 100 -DurationSec 3 -Sla 100ms
        $closed = Measure-PuoLatency -Concurrency 1 -DurationSec 3 -Sla 100ms
        $open.Count | Should -Be 300
        $open.P99 | Should -BeGreaterOrEqual ([timespan]::FromMilliseconds(150))
        $open.Status | Should -Be 'Critical'
        $open.Detail | Should -BeLike 'P99 * ms is over the SLA of 100 ms.'
        $closed.P90 | Should -BeLessThan ([timespan]::FromMilliseconds(50))
    }
}

Describe 'Default views read well at 80 columns' {
    It '<Command> renders every line within 80 columns' -ForEach @(
        @{ Command = 'Test-PuoHealth'; Header = 'Status   Component  Latency Target' }
        @{ Command = 'Get-PuoMetric'; Header = 'Type      Name' }
        @{ Command = 'Measure-PuoLatency -Count 20'; Header = 'Status     Count Errors' }
    ) {
        $lines = @((Invoke-Expression $Command | Out-String -Width 80) -split "`r?`n" | Where-Object { $_ })
        $lines[0] | Should -BeLike "$Header*"
        $lines.Count | Should -BeGreaterThan 2
        foreach ($line in $lines) { $line.Length | Should -BeLessOrEqual 80 -Because $line }
    }
}

Describe 'HdrHistogram' {
    It 'loads from deps/ into the module''s own AssemblyLoadContext' {
        $probe = Invoke-ChildPwsh @('env') @"
Connect-PuoEnvironment -Name ldr -ApiUrl '$($State.Api.Url)' -SkipCheck
`$report = Measure-PuoLatency -Count 5
`$assembly = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { `$_.GetName().Name -eq 'HdrHistogram' }
[pscustomobject]@{ Count = `$report.Count; Context = [System.Runtime.Loader.AssemblyLoadContext]::GetLoadContext(`$assembly).Name; Location = `$assembly.Location } | ConvertTo-Json -Compress
"@
        $probe.Count | Should -Be 5
        $probe.Context | Should -Be 'PuoOps.Engine'
        $probe.Location | Should -Be (Join-Path $env:PUO_MODULE_PATH 'deps/HdrHistogram.dll')
    }
}
