# The packages build.ps1 -Task Package makes, used as their users would: the zip unpacked into a fresh folder and
# imported by name (as Azure Automation does), the .nupkg published to a file repository with Publish-PSResource and
# installed from it with Install-PSResource. Each in a new, non-interactive pwsh, so the module loaded by the suite
# cannot stand in for the packaged one.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    . "$repo/build.ps1"
    $ErrorActionPreference = 'Stop'
    $work = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-package-$([Guid]::NewGuid().ToString('N').Substring(0, 8))")).FullName
    $packages = New-PuoPackage -ModulePath $env:PUO_MODULE_PATH -OutputPath (Join-Path $work 'out')
    $zip = $packages | Where-Object Extension -EQ '.zip'
    $nupkg = $packages | Where-Object Extension -EQ '.nupkg'
    $version = (Import-PowerShellDataFile (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')).ModuleVersion
    $connection = Get-PuoSandboxConnection

    function Invoke-CleanPwsh([string] $Script, [hashtable] $Environment = @{}) {
        # A new pwsh without profile or prompts; $Environment sets variables for it alone. Returns its last line as JSON.
        $saved = @{}
        foreach ($name in $Environment.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $Environment[$name]) }
        # Started in the test's own folder, so anything written relative to the current directory is removed with it.
        Push-Location -LiteralPath $work
        try { $output = & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -Command $Script 2>&1 }
        finally {
            Pop-Location
            foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) }
        }
        if ($LASTEXITCODE -ne 0) { throw "The child pwsh failed (exit $LASTEXITCODE):`n$($output -join "`n")" }
        ($output | Select-Object -Last 1) | ConvertFrom-Json
    }
}

AfterAll {
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'out/PuoOps.zip (Azure Automation)' {
    BeforeAll {
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $archive = [IO.Compression.ZipFile]::OpenRead($zip.FullName)
        try { $entries = @($archive.Entries | ForEach-Object FullName) } finally { $archive.Dispose() }
    }

    It 'is named PuoOps.zip and holds one PuoOps folder with PuoOps.psd1 at its top' {
        $zip.Name | Should -Be 'PuoOps.zip'
        @($entries | ForEach-Object { ($_ -split '/')[0] } | Sort-Object -Unique) | Should -Be @('PuoOps')
        $entries | Should -Contain 'PuoOps/PuoOps.psd1'
        $entries | Should -Contain 'PuoOps/PuoOps.dll'
        $entries | Should -Contain 'PuoOps/en-US/PuoOps.dll-Help.xml'
        $entries | Should -Contain 'PuoOps/LICENSE'
    }

    It 'has every path under 140 characters, with / separators' {
        @($entries | Where-Object Length -GE 140) | Should -BeNullOrEmpty
        @($entries | Where-Object { $_ -match '\\' }) | Should -BeNullOrEmpty
    }

    It 'needs no installer: no setup program or script in it' {
        @($entries | Where-Object { $_ -match '\.(msi|exe|sh|cmd|bat)$|(^|/)install' }) | Should -BeNullOrEmpty
    }

    It 'unzipped into a fresh folder, imports by name in a clean non-interactive session and runs' {
        $modules = Join-Path $work 'automation-modules'
        Expand-Archive -LiteralPath $zip.FullName -DestinationPath $modules
        $probe = Invoke-CleanPwsh -Environment @{ PSModulePath = $modules } -Script @"
`$ErrorActionPreference = 'Stop'
`$connection = '$($connection | ConvertTo-Json -Compress)' | ConvertFrom-Json -AsHashtable
Import-Module PuoOps
Connect-PuoEnvironment @connection
[pscustomobject]@{ Base = (Get-Module PuoOps).ModuleBase; Version = "`$((Get-Module PuoOps).Version)"; Status = "`$((Test-PuoRedis).Status)" } | ConvertTo-Json -Compress
"@
        $probe.Base | Should -Be (Join-Path $modules 'PuoOps')
        $probe.Version | Should -Be $version
        $probe.Status | Should -Be 'OK'
    }
}

Describe 'The .nupkg in a PowerShell repository' {
    It 'is published with Publish-PSResource, installed with Install-PSResource into a fresh path, imported and run' {
        # PSResourceGet keeps its repository list under XDG_DATA_HOME, CurrentUser modules under HOME and scratch files in
        # TMPDIR: fresh ones leave the user's own repositories and modules alone, and nothing behind. The data folder must
        # exist, as must NuGet's XDG_CONFIG_HOME: .NET answers a missing one with "", and they would write to the current directory.
        $userHome = (New-Item -ItemType Directory -Path (Join-Path $work 'home')).FullName
        $null = New-Item -ItemType Directory -Path "$userHome/.local/share", "$userHome/.config"
        $scratch = (New-Item -ItemType Directory -Path (Join-Path $work 'tmp')).FullName
        $feed = (New-Item -ItemType Directory -Path (Join-Path $work 'feed')).FullName
        $probe = Invoke-CleanPwsh -Environment @{ HOME = $userHome; XDG_DATA_HOME = "$userHome/.local/share"; XDG_CONFIG_HOME = "$userHome/.config"; TMPDIR = $scratch } -Script @"
`$ErrorActionPreference = 'Stop'
`$connection = '$($connection | ConvertTo-Json -Compress)' | ConvertFrom-Json -AsHashtable
Register-PSResourceRepository -Name PuoLocal -Uri '$feed' -Trusted
Publish-PSResource -NupkgPath '$($nupkg.FullName)' -Repository PuoLocal
`$found = Find-PSResource -Name PuoOps -Repository PuoLocal
Install-PSResource -Name PuoOps -Repository PuoLocal -Scope CurrentUser -TrustRepository
`$installed = Get-InstalledPSResource -Name PuoOps
Import-Module (Join-Path `$installed.InstalledLocation 'PuoOps/$version/PuoOps.psd1')
Connect-PuoEnvironment @connection
[pscustomobject]@{
    Feed = @(Get-ChildItem '$feed' -Name); FoundVersion = "`$(`$found.Version)"; Tags = @(`$found.Tags); ProjectUri = "`$(`$found.ProjectUri)"
    Installed = `$installed.InstalledLocation; Base = (Get-Module PuoOps).ModuleBase; Status = "`$((Test-PuoPostgres).Status)"
} | ConvertTo-Json -Compress
"@
        $probe.Feed | Should -Be @("PuoOps.$version.nupkg")
        $probe.FoundVersion | Should -Be $version
        $probe.Tags | Should -Contain 'PostgreSQL'
        $probe.ProjectUri | Should -Not -BeNullOrEmpty
        $probe.Installed | Should -BeLike "$userHome/*"
        $probe.Base | Should -Be (Join-Path $probe.Installed "PuoOps/$version")
        $probe.Status | Should -Be 'OK'
    }
}
