# The runbook's quick diagnostics and memory-leak steps as pipelines in pwsh, against the sandbox stack. A test that
# makes the API stand-in unhealthy puts it back in AfterEach.
BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Connect-PuoSandbox -Name 'pester-diagnostics'
    $script:State = Get-PuoSandboxState
    $script:Folder = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-pester-diag-$PID-$(Get-Random)")).FullName

    function Set-StandIn([string] $Url, [string] $Query = '') {
        # POST /_standin?... changes how the stand-in answers; no query makes it healthy again.
        $null = Invoke-RestMethod -Method Post -Uri "$Url/_standin$Query"
    }
}

AfterAll {
    Remove-Item -LiteralPath $Folder -Recurse -Force -ErrorAction Ignore
    Get-PuoEnvironment -Name 'pester-diagnostics' -ErrorAction Ignore | Disconnect-PuoEnvironment -Confirm:$false
}

Describe 'Quick diagnostics' {
    AfterEach { Set-StandIn $State.Api.Url }

    It 'a failing API makes the report Critical, names it, and the page says so' {
        Set-StandIn $State.Api.Url '?status=500&body={"error":"db pool exhausted"}'
        $page = Join-Path $Folder 'incident.html'
        $report = Invoke-PuoDiagnostic -Section Health, Postgres, Redis -HtmlPath $page
        $report.Status | Should -Be 'Critical'
        $attention = @($report.Sections | Where-Object Status -ne OK)
        $attention.Name | Should -Be @('Health')
        $attention[0].Summary | Should -Match '^5 checks: .*Api: .*500'
        ($report.Section('Health').Items | Where-Object Component -eq Api).Status | Should -Be 'Critical'
        $html = Get-Content -LiteralPath $page -Raw
        $html | Should -Match '<section id="health" class="section">\s*<h2>Health <span class="status Critical">Critical</span>'
        $html | Should -Not -Match ([regex]::Escape($State.Postgres.Password))
    }

    It 'a healthy stack reports OK in every section it runs' {
        $report = Invoke-PuoDiagnostic -Section Health, Latency, Postgres, Database, Redis
        @($report.Sections | Where-Object Status -ne OK | Where-Object { $_.Name -ne 'Health' -or $State.Docker.Available } |
            ForEach-Object { "$($_.Name): $($_.Summary)" }) | Should -BeNullOrEmpty
        $report.Section('Latency').Items[0].Count | Should -BeGreaterThan 0
    }
}

Describe 'Memory Leak, step 1: ps aux | sort -nk 6 | tail -20' {
    It 'lists the largest processes first, as many as asked' {
        $top = Get-PuoProcess -Top 10 -SampleInterval 200ms
        $top.Count | Should -Be 10
        $bytes = $top.ResidentBytes
        for ($i = 1; $i -lt $bytes.Count; $i++) { $bytes[$i] | Should -BeLessOrEqual $bytes[$i - 1] }
    }

    It 'the processes of the api container, piped from Get-PuoContainer' {
        if (-not $State.Docker.Available) { Set-ItResult -Skipped -Because "the sandbox has no Docker engine: $($State.Docker.Error)"; return }
        $processes = @(Get-PuoContainer -Service api | Get-PuoProcess -All -SampleInterval 200ms)
        $processes | Should -Not -BeNullOrEmpty
        $processes.Service | Sort-Object -Unique | Should -Be 'api'
        $processes.Container | Sort-Object -Unique | Should -Be 'puo-memo-api-1'
    }
}
