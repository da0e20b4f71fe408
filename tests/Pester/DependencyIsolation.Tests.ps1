# Whatever the session loaded first, or loads after, PuoOps runs on the packages in its own deps/ folder, in its own
# AssemblyLoadContext, and the session's other versions keep working beside it (DependencyIsolation.Probe.ps1).

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $deps = Join-Path $env:PUO_MODULE_PATH 'deps'
    # name -> version of what the module ships.
    $ours = @{}
    Get-ChildItem $deps -Filter *.dll | ForEach-Object { $ours[$_.BaseName] = "$([Reflection.AssemblyName]::GetAssemblyName($_.FullName).Version)" }
    # The other versions come from the NuGet packages the test project downloads (PackageDownload).
    $packages = if ($env:NUGET_PACKAGES) { $env:NUGET_PACKAGES } else { ((& dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim() }

    function Invoke-Probe([string] $Order) {
        $output = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File "$PSScriptRoot/DependencyIsolation.Probe.ps1" -Order $Order -Packages $packages 2>&1
        if ($LASTEXITCODE -ne 0) { throw "The probe ($Order) failed (exit $LASTEXITCODE):`n$($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }
}

Describe 'Other versions of its packages in the session, <Order>' -ForEach @(@{ Order = 'OthersFirst' }, @{ Order = 'PuoOpsFirst' }) {
    BeforeAll {
        $probe = Invoke-Probe $Order
        $state = Get-PuoSandboxState
    }

    It 'leaves every cmdlet family working' {
        $runs = @($probe.PuoOps) + @(if ($probe.PSObject.Properties['PuoOpsAgain']) { $probe.PuoOpsAgain })
        foreach ($run in $runs) {
            $run.Environment | Should -Be 'isolation'
            $run.Postgres | Should -Be 'OK'
            $run.TableSize | Should -Be 'memories'
            $run.Redis | Should -Be 'OK'
            $run.CacheKeys | Should -Be 3
            $run.DiskSpace | Should -BeIn 'OK', 'Warning', 'Critical'
            if ($state.Docker.Available) { $run.Containers | Should -BeGreaterThan 0 }
        }
    }

    It 'leaves the other versions working' {
        $runs = @($probe.OthersAfter) + @(if ($probe.PSObject.Properties['OthersBefore']) { $probe.OthersBefore })
        foreach ($run in $runs) {
            $run.MemoryRows | Should -BeGreaterThan 0
            $run.RedisValue | Should -Be 'other copy'
            $run.PipeBytes | Should -Be 3
        }
    }

    It 'loads <_> for PuoOps from its deps/ folder into its own context' -ForEach 'Npgsql', 'StackExchange.Redis', 'System.IO.Pipelines', 'Microsoft.Extensions.Logging.Abstractions', 'Docker.DotNet' {
        if ($_ -eq 'Docker.DotNet' -and -not $state.Docker.Available) { Set-ItResult -Skipped -Because "the sandbox has no Docker engine: $($state.Docker.Error)" }
        $mine = @($probe.Engine | Where-Object Name -EQ $_)
        $mine.Count | Should -Be 1
        $mine[0].Version | Should -Be $ours[$_]
        $mine[0].Location | Should -Be (Join-Path $deps "$_.dll")
    }

    It 'keeps the session''s own <Name> <Version> in the default context' -ForEach @(
        @{ Name = 'Npgsql'; Version = '9.0.4.0' }
        @{ Name = 'StackExchange.Redis'; Version = '3.0.0.0' }
        @{ Name = 'Microsoft.Extensions.Logging.Abstractions'; Version = '10.0.0.0' }
    ) {
        $theirs = @($probe.Default | Where-Object Name -EQ $Name)
        $theirs.Count | Should -Be 1
        $theirs[0].Version | Should -Be $Version
        $theirs[0].Location | Should -Not -BeLike "$deps*"
    }

    It 'keeps the runtime''s System.IO.Pipelines for the session, beside its own' {
        $theirs = @($probe.Default | Where-Object Name -EQ 'System.IO.Pipelines')
        $theirs.Count | Should -Be 1
        $theirs[0].Version | Should -Not -Be $ours['System.IO.Pipelines']
        $theirs[0].Location | Should -Not -BeLike "$deps*"
    }

    It 'keeps PuoOps.Engine and its packages out of the default context' {
        $probe.Default.Name | Should -Not -Contain 'PuoOps.Engine'
        $probe.Default.Name | Should -Not -Contain 'Docker.DotNet'
        $probe.Default.Name | Should -Not -Contain 'Pipelines.Sockets.Unofficial'
    }
}
