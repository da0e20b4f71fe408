# What a new user hit in the first hour: progress drawn into redirected output, no about_PuoOps, Get-Help -Online
# failing for want of a URI, and no documented way to use the sandbox by hand (build.ps1 -Task Sandbox).

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $null = Connect-PuoSandbox
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $connection = Get-PuoSandboxConnection
    $projectUri = (Import-PowerShellDataFile (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).PrivateData.PSData.ProjectUri

    function Invoke-ChildPwsh([string] $Script, [hashtable] $Environment = @{}) {
        # A new pwsh -NonInteractive, its output redirected (not a terminal) and no input, with the module imported and
        # the sandbox connected; $Environment sets variables for it alone. Returns its exit code, output and errors.
        $json = ($connection | ConvertTo-Json -Compress) -replace "'", "''"
        $command = "`$connection = '$json' | ConvertFrom-Json -AsHashtable; Import-Module '$env:PUO_MODULE_PATH/PuoOps.psd1'; `$null = Connect-PuoEnvironment @connection`n$Script"
        $info = [System.Diagnostics.ProcessStartInfo]::new('dotnet')
        foreach ($argument in "$PSHOME/pwsh.dll", '-NoProfile', '-NonInteractive', '-Command', $command) { $info.ArgumentList.Add($argument) }
        $info.RedirectStandardInput = $true; $info.RedirectStandardOutput = $true; $info.RedirectStandardError = $true
        foreach ($name in $Environment.Keys) { $info.Environment[$name] = $Environment[$name] }
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $process.StandardInput.Close()
            $output = $process.StandardOutput.ReadToEndAsync()
            $errors = $process.StandardError.ReadToEndAsync()
            if (-not $process.WaitForExit(120000)) { $process.Kill($true); throw 'The child pwsh did not exit within 120 s.' }
            [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $output.Result; Errors = $errors.Result }
        }
        finally { $process.Dispose() }
    }
}

Describe 'Output that is not a terminal' {
    It 'carries the objects only: PuoOps writes no progress to a console whose output is redirected' {
        # $ProgressPreference = 'Stop' makes any progress record an error, so a record written at all would show.
        $run = Invoke-ChildPwsh "`$ProgressPreference = 'Stop'; Invoke-PuoVacuum -Table memories -Analyze | ForEach-Object { 'table ' + `$_.Table }"
        $run.Errors | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        @($run.Output -split "`r?`n" | Where-Object { $_.Trim() }) | Should -Be @('table memories')
        $run.Output | Should -Not -Match "`e" -Because 'no escape sequence of a progress bar belongs in redirected output'
    }
}

Describe 'Help a new user looks for' {
    It 'Get-Help about_PuoOps explains environments, read-only and unattended use' {
        Join-Path $env:PUO_MODULE_PATH 'en-US/about_PuoOps.help.txt' | Should -Exist
        $run = Invoke-ChildPwsh "Get-Help about_PuoOps | Out-String -Width 120"
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Match 'about_PuoOps'
        $run.Output | Should -Match 'Connect-PuoEnvironment -Name oncall .* -ReadOnly'
        $run.Output | Should -Match ([regex]::Escape('-Confirm:$false'))
    }

    It 'about_PuoOps names every exported cmdlet under its runbook section' {
        $topic = Get-Content -LiteralPath (Join-Path $env:PUO_MODULE_PATH 'en-US/about_PuoOps.help.txt') -Raw
        $missing = Get-Command -Module PuoOps -CommandType Cmdlet | Where-Object { $topic -notmatch "\b$([regex]::Escape($_.Name))\b" } | ForEach-Object Name
        $missing | Should -BeNullOrEmpty -Because 'docs/about_PuoOps.help.txt lists the cmdlets by runbook section'
    }

    It 'every cmdlet''s help links its page in docs/cmdlets first, for Get-Help -Online' {
        foreach ($command in Get-Command -Module PuoOps -CommandType Cmdlet) {
            $uri = @((Get-Help $command.Name).relatedLinks.navigationLink)[0].uri
            $uri | Should -Be "$projectUri/blob/main/docs/cmdlets/$($command.Name).md"
            Join-Path $repo "docs/cmdlets/$($command.Name).md" | Should -Exist
        }
    }

    It 'Get-Help -Online opens that page in the browser' {
        # A stand-in for the desktop's opener, first on PATH: it writes down what it was asked to open.
        $bin = New-Item -ItemType Directory -Path (Join-Path $TestDrive 'bin') -Force
        $opened = Join-Path $TestDrive 'opened.txt'
        Set-Content -LiteralPath (Join-Path $bin 'xdg-open') -Value "#!/bin/sh`nprintf '%s\n' `"`$1`" >> '$opened'"
        & chmod +x (Join-Path $bin 'xdg-open')
        $run = Invoke-ChildPwsh 'Get-Help Stop-PuoQuery -Online' -Environment @{ PATH = "$bin$([IO.Path]::PathSeparator)$env:PATH"; DISPLAY = ':0' }
        $run.Errors | Should -BeNullOrEmpty
        $run.ExitCode | Should -Be 0
        Get-Content -LiteralPath $opened | Should -Be "$projectUri/blob/main/docs/cmdlets/Stop-PuoQuery.md"
    }
}

Describe 'build.ps1 -Task Sandbox: a sandbox to use by hand' {
    BeforeAll {
        . "$repo/build.ps1"
        $ErrorActionPreference = 'Stop'
        $state = Join-Path $TestDrive 'manual/state.json'
        $suiteState = $env:PUO_SANDBOX_STATE
        # Only Redis, for speed: the suite's own sandbox stays as it is.
        try { Start-Sandbox -StateFile $state -Services Redis }
        finally { $env:PUO_SANDBOX_STATE = $suiteState }
    }

    AfterAll {
        if (Test-Path -LiteralPath $state) { Stop-Sandbox -StateFile $state }
    }

    It 'prints a one-line connect for a new or an open pwsh session, and how to stop it' {
        $guide = Get-SandboxGuide -State $state
        $guide | Should -Contain "    dotnet pwsh -NoExit -File '$repo/tools/Connect-Sandbox.ps1' -StateFile '$state'"
        $guide | Should -Contain "    & '$repo/tools/Connect-Sandbox.ps1' -StateFile '$state'"
        $guide | Should -Contain "    dotnet pwsh '$repo/build.ps1' -Task StopSandbox"
        ($guide -join "`n") | Should -Not -Match ([regex]::Escape((Get-Content -LiteralPath $state -Raw | ConvertFrom-Json).Redis.Password))
    }

    It 'the connect line connects a session to it' {
        $line = (Get-SandboxGuide -State $state | Where-Object { $_ -match '^\s+& ' }).Trim()
        $output = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command "$line | Out-Null; (Get-PuoEnvironment -Default).Name; (Test-PuoRedis).Status"
        $LASTEXITCODE | Should -Be 0
        $output | Should -Be @('sandbox', 'OK')
    }

    It 'StopSandbox stops it: its Redis is gone, with its folder and state file' {
        $started = Get-Content -LiteralPath $state -Raw | ConvertFrom-Json
        Stop-Sandbox -StateFile $state
        $state | Should -Not -Exist
        $started.Root | Should -Not -Exist
        # Redis may take a moment to exit after its signal: wait for that, with a deadline.
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ((Get-Process -Id $started.Redis.Pid -ErrorAction SilentlyContinue) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        Get-Process -Id $started.Redis.Pid -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
    }
}
