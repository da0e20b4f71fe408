#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates PuoOps.
.DESCRIPTION
    -Task Build  lays the module out under out/PuoOps/<version>/ (manifest, PuoOps.dll, deps/, format file, en-US help).
    -Task Test   builds, starts the sandbox stack (tests/Sandbox), runs xUnit and Pester against it, stops the
                 sandbox and prints "N passed, N failed". Exits 1 when anything failed.
    -Task Demo   builds, starts the sandbox, runs a short runbook session (tools/Demo.ps1), stops the sandbox.
    -Task Clean  removes out/ and the projects' bin/obj folders.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release',
    # Test only: run just these suites.
    [ValidateSet('xUnit', 'Pester')]
    [string[]] $Suite = @('xUnit', 'Pester'),
    # Test only: xUnit filter / Pester path, to run a part while working on it.
    [string] $Filter,
    [string] $PesterPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = $PSScriptRoot
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$moduleRoot = Join-Path $root 'out/PuoOps'
$moduleDir = Join-Path $moduleRoot $version
$sandbox = Join-Path $root 'tests/Sandbox/Sandbox.ps1'
$stateFile = Join-Path $root 'out/sandbox/state.json'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_NOLOGO = '1'

function Invoke-Native {
    # Runs a native command and stops the build when it fails.
    param([string] $Command, [string[]] $Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
}

function Invoke-Pwsh {
    # A child pwsh of the same version (the dotnet tool), so the module loads fresh and the build session stays clean.
    param([string[]] $Arguments)
    # Its output goes to the console, not into this function's result, which is only the exit code.
    & dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive @Arguments | Out-Host
    return $LASTEXITCODE
}

function Build-Module {
    Write-Host "Building PuoOps $version ($Configuration)" -ForegroundColor Cyan
    Invoke-Native dotnet @('build', "$root/PuoOps.sln", '-c', $Configuration, '-nologo', '-v', 'q', '-clp:ErrorsOnly')
    if (Test-Path $moduleRoot) { Remove-Item $moduleRoot -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $moduleDir, "$moduleDir/en-US" -Force
    # The engine and its packages go to deps/, loaded by ModuleInit into the module's own AssemblyLoadContext.
    Invoke-Native dotnet @('publish', "$root/src/PuoOps.Engine/PuoOps.Engine.csproj", '-c', $Configuration, '--no-build',
        '-o', "$moduleDir/deps", '-nologo', '-v', 'q')
    Remove-Item "$moduleDir/deps/*.deps.json" -ErrorAction SilentlyContinue
    $bin = "$root/src/PuoOps/bin/$Configuration/net8.0"
    Copy-Item "$bin/PuoOps.dll", "$bin/PuoOps.pdb" $moduleDir
    Copy-Item "$root/PuoOps.psd1" $moduleDir
    Copy-Item "$root/src/PuoOps/PuoOps.Format.ps1xml" $moduleDir
    $exit = Invoke-Pwsh @('-File', "$root/tools/New-PuoHelp.ps1", '-ModulePath', $moduleDir, '-SourcePath', "$root/docs/cmdlets",
        '-OutputPath', "$moduleDir/en-US/PuoOps.dll-Help.xml")
    if ($exit -ne 0) { throw "Generating help failed (exit $exit)." }
    Write-Host "Module laid out in $moduleDir" -ForegroundColor Green
}

function Start-Sandbox {
    $env:PUO_SANDBOX_STATE = $stateFile
    $exit = Invoke-Pwsh @('-File', $sandbox, '-Action', 'Start', '-StateFile', $stateFile)
    if ($exit -ne 0) { throw "Starting the sandbox stack failed (exit $exit)." }
}

function Stop-Sandbox {
    $exit = Invoke-Pwsh @('-File', $sandbox, '-Action', 'Stop', '-StateFile', $stateFile)
    if ($exit -ne 0) { Write-Warning "Stopping the sandbox stack failed (exit $exit); see $stateFile." }
}

function Get-PesterModulePath {
    # Pester is restored from NuGet by the test project (PackageDownload); its module sits in tools/.
    $packages = $env:NUGET_PACKAGES
    if (-not $packages) {
        $line = & dotnet nuget locals global-packages --list
        $packages = ($line -replace '^global-packages:\s*', '').Trim()
    }
    $path = Join-Path $packages 'pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $path)) { throw "Pester 6.2.0 was not restored to $path; run dotnet restore tests/PuoOps.Tests." }
    return $path
}

function Invoke-XUnit {
    $results = Join-Path $root 'out/test-results'
    Remove-Item $results -Recurse -Force -ErrorAction SilentlyContinue
    $arguments = @('test', "$root/tests/PuoOps.Tests/PuoOps.Tests.csproj", '-c', $Configuration, '--no-build', '-nologo',
        '--logger', 'trx;LogFileName=xunit.trx', '--logger', 'console;verbosity=normal', '--results-directory', $results)
    if ($Filter) { $arguments += @('--filter', $Filter) }
    & dotnet @arguments | Out-Host
    $trx = Get-ChildItem $results -Filter '*.trx' -Recurse | Select-Object -First 1
    if (-not $trx) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
    $counters = ([xml](Get-Content $trx.FullName -Raw)).TestRun.ResultSummary.Counters
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout; Skipped = [int]$counters.notExecuted }
}

function Invoke-PesterSuite {
    $resultFile = Join-Path $root 'out/test-results/pester.json'
    $null = New-Item -ItemType Directory -Path (Split-Path $resultFile) -Force
    # A result left by an earlier run must not stand in for this one if Pester dies before writing.
    Remove-Item $resultFile -ErrorAction SilentlyContinue
    $path = if ($PesterPath) { $PesterPath } else { "$root/tests/Pester" }
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-PesterModulePath)'
`$config = New-PesterConfiguration
`$config.Run.Path = '$path'
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Detailed'
`$r = Invoke-Pester -Configuration `$config
[pscustomobject]@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount; Skipped = `$r.SkippedCount } |
    ConvertTo-Json | Set-Content '$resultFile'
"@
    $null = Invoke-Pwsh @('-Command', $script)
    if (-not (Test-Path $resultFile)) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
    Get-Content $resultFile -Raw | ConvertFrom-Json
}

switch ($Task) {
    'Clean' {
        Remove-Item "$root/out" -Recurse -Force -ErrorAction SilentlyContinue
        Get-ChildItem $root -Include bin, obj -Directory -Recurse | Remove-Item -Recurse -Force
    }
    'Build' { Build-Module }
    'Demo' {
        Build-Module
        Start-Sandbox
        try {
            $exit = Invoke-Pwsh @('-File', "$root/tools/Demo.ps1", '-ModulePath', $moduleDir, '-StateFile', $stateFile)
            if ($exit -ne 0) { throw "The demo failed (exit $exit)." }
        }
        finally { Stop-Sandbox }
    }
    'Test' {
        Build-Module
        $env:PUO_MODULE_PATH = $moduleDir
        $totals = @()
        Start-Sandbox
        try {
            if ('xUnit' -in $Suite) { $totals += Invoke-XUnit }
            if ('Pester' -in $Suite) { $totals += Invoke-PesterSuite }
        }
        finally { Stop-Sandbox }
        $passed = ($totals | Measure-Object Passed -Sum).Sum
        $failed = ($totals | Measure-Object Failed -Sum).Sum
        $skipped = ($totals | Measure-Object Skipped -Sum).Sum
        Write-Host ''
        Write-Host "$passed passed, $failed failed, $skipped skipped"
        if ($failed -gt 0) { exit 1 }
    }
}
