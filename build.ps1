#Requires -Version 7.4
<#
.SYNOPSIS
    Builds, tests and demonstrates PuoOps.
.DESCRIPTION
    -Task Build  lays the module out under out/PuoOps/<version>/ (manifest, PuoOps.dll, deps/, format file, en-US help).
    -Task Test   builds, starts the sandbox stack (tests/Sandbox), runs xUnit and Pester against it in a temp
                 directory of their own, stops the sandbox, prints each skip's reason and "N passed, N failed,
                 N skipped". Exits 1 when a test failed, a test runner exited non-zero, the tests left files in
                 their temp directory, or (under CI=true) anything was skipped.
    -Task Demo   builds, starts the sandbox, runs a short runbook session (tools/Demo.ps1), stops the sandbox.
    -Task Sandbox builds, starts the sandbox stack and leaves it running; prints how to connect a pwsh session to it
                 (./tools/Connect-Sandbox.ps1) and how to stop it.
    -Task StopSandbox stops the sandbox -Task Sandbox started.
    -Task Package builds, then writes out/PuoOps.zip (for Azure Automation: a PuoOps folder with PuoOps.psd1, no
                 installer) and out/PuoOps.<version>.nupkg (for Publish-PSResource / a PowerShell repository).
    -Task Clean  removes out/ and the projects' bin/obj folders.
.EXAMPLE
    dotnet tool restore; dotnet pwsh ./build.ps1 -Task Test
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Sandbox', 'StopSandbox', 'Package', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release',
    # Test only: run just these suites.
    [ValidateSet('xUnit', 'Pester')]
    [string[]] $Suite = @('xUnit', 'Pester'),
    # Test only: xUnit filter / Pester paths, to run a part while working on it.
    [string] $Filter,
    [string[]] $PesterPath
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
    # No build servers (MSBuild nodes, the compiler server) outlive the build, and the temp folders dotnet leaves go
    # to a scratch TMPDIR removed afterwards: the build leaves no process and nothing in /tmp.
    $outerTemp = $env:TMPDIR
    $env:TMPDIR = (& mktemp -d '/tmp/puo-build-XXXXXX').Trim()
    try {
        Invoke-Native dotnet @('build', "$root/PuoOps.sln", '-c', $Configuration, "-p:Version=$version", '-nologo', '-v', 'q', '--disable-build-servers')
        if (Test-Path $moduleRoot) { Remove-Item $moduleRoot -Recurse -Force }
        $null = New-Item -ItemType Directory -Path $moduleDir, "$moduleDir/en-US" -Force
        # The engine and its packages go to deps/, loaded by ModuleInit into the module's own AssemblyLoadContext.
        Invoke-Native dotnet @('publish', "$root/src/PuoOps.Engine/PuoOps.Engine.csproj", '-c', $Configuration, '--no-build',
            '-o', "$moduleDir/deps", '-nologo', '-v', 'q', '--disable-build-servers')
    }
    finally {
        Remove-Item -LiteralPath $env:TMPDIR -Recurse -Force -ErrorAction SilentlyContinue
        $env:TMPDIR = $outerTemp
    }
    Remove-Item "$moduleDir/deps/*.deps.json" -ErrorAction SilentlyContinue
    $bin = "$root/src/PuoOps/bin/$Configuration/net8.0"
    Copy-Item "$bin/PuoOps.dll", "$bin/PuoOps.pdb" $moduleDir
    Copy-Item "$root/PuoOps.psd1", "$root/LICENSE" $moduleDir
    Copy-Item "$root/src/PuoOps/PuoOps.Format.ps1xml" $moduleDir
    Copy-Item "$root/docs/about_PuoOps.help.txt" "$moduleDir/en-US"
    $exit = Invoke-Pwsh @('-File', "$root/tools/New-PuoHelp.ps1", '-ModulePath', $moduleDir, '-SourcePath', "$root/docs/cmdlets",
        '-OutputPath', "$moduleDir/en-US/PuoOps.dll-Help.xml")
    if ($exit -ne 0) { throw "Generating help failed (exit $exit)." }
    Write-Host "Module laid out in $moduleDir" -ForegroundColor Green
}

function New-PuoPackage {
    <# Packages a built module folder: <OutputPath>/PuoOps.zip holds a PuoOps folder with PuoOps.psd1 (Azure Automation
       names the module after the zip and wants the manifest named like both; every path under 140 characters), and
       <OutputPath>/PuoOps.<version>.nupkg is what Publish-PSResource sends to a repository. Returns both files. #>
    param([string] $ModulePath = $moduleDir, [string] $OutputPath = (Join-Path $root 'out'))
    $null = New-Item -ItemType Directory -Path $OutputPath -Force
    $stage = Join-Path $OutputPath "package-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
    $folder = Join-Path $stage 'PuoOps'
    try {
        $null = New-Item -ItemType Directory -Path $folder
        Copy-Item -Path "$ModulePath/*" -Destination $folder -Recurse
        $tooLong = @(Get-ChildItem -LiteralPath $folder -Recurse -File | ForEach-Object { $_.FullName.Substring($stage.Length + 1) } | Where-Object Length -GE 140)
        if ($tooLong) { throw "Azure Automation refuses module paths of 140 characters or more: $($tooLong -join ', ')." }
        $zip = Join-Path $OutputPath 'PuoOps.zip'
        Remove-Item -LiteralPath $zip -ErrorAction SilentlyContinue
        # ZipFile writes '/' separators on every platform (Compress-Archive has written backslashes on Windows).
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        [IO.Compression.ZipFile]::CreateFromDirectory($folder, $zip, [IO.Compression.CompressionLevel]::Optimal, $true)
        $manifest = Import-PowerShellDataFile (Join-Path $folder 'PuoOps.psd1')
        $nupkg = Join-Path $OutputPath "PuoOps.$($manifest.ModuleVersion).nupkg"
        Remove-Item -LiteralPath $nupkg -ErrorAction SilentlyContinue
        Compress-PSResource -Path $folder -DestinationPath $OutputPath
        if (-not (Test-Path -LiteralPath $nupkg)) { throw "Compress-PSResource wrote no $nupkg." }
        Get-Item -LiteralPath $zip, $nupkg
    }
    finally { Remove-Item -LiteralPath $stage -Recurse -Force -ErrorAction SilentlyContinue }
}

function Start-Sandbox {
    param([string] $StateFile = $stateFile, [string[]] $Services)
    $env:PUO_SANDBOX_STATE = $StateFile
    $arguments = @('-File', $sandbox, '-Action', 'Start', '-StateFile', $StateFile)
    if ($Services) { $arguments += @('-Services', ($Services -join ',')) }
    $exit = Invoke-Pwsh $arguments
    if ($exit -ne 0) { throw "Starting the sandbox stack failed (exit $exit)." }
}

function Stop-Sandbox {
    param([string] $StateFile = $stateFile)
    $exit = Invoke-Pwsh @('-File', $sandbox, '-Action', 'Stop', '-StateFile', $StateFile)
    if ($exit -ne 0) { Write-Warning "Stopping the sandbox stack failed (exit $exit); see $StateFile." }
}

function Get-SandboxGuide {
    # What -Task Sandbox prints once the stack runs: how to connect a session to it and how to stop it.
    param([string] $State = $stateFile)
    $connect = Join-Path $root 'tools/Connect-Sandbox.ps1'
    $stateArgument = if ($State -ne $stateFile) { " -StateFile '$State'" } else { '' }
    @(
        "The sandbox is running; its ports and passwords are in $State (owner-only)."
        'Connect a new pwsh session to it (imports the built module, makes the sandbox the default environment):'
        "    dotnet pwsh -NoExit -File '$connect'$stateArgument"
        'or, in a pwsh session that is already open:'
        "    & '$connect'$stateArgument"
        'Stop it (stops every service, deletes its folder and state file):'
        "    dotnet pwsh '$root/build.ps1' -Task StopSandbox"
    )
}

function Get-NuGetPackagesPath {
    # NuGet's global packages folder: NUGET_PACKAGES, else what NuGet says (asking it leaves a scratch folder in TMPDIR).
    if ($env:NUGET_PACKAGES) { return $env:NUGET_PACKAGES }
    $line = & dotnet nuget locals global-packages --list
    ($line -replace '^global-packages:\s*', '').Trim()
}

function Get-PesterModulePath {
    # Pester is restored from NuGet by the test project (PackageDownload); its module sits in tools/.
    $path = Join-Path (Get-NuGetPackagesPath) 'pester/6.2.0/tools/Pester.psd1'
    if (-not (Test-Path $path)) { throw "Pester 6.2.0 was not restored to $path; run dotnet restore tests/PuoOps.Tests." }
    return $path
}

function Invoke-XUnit {
    <# Runs the xUnit suite. The counts come from the TRX file, but dotnet test's exit code has the last word: a test
       host that crashed or a run that was aborted leaves a TRX of the tests that did finish, all passed, and exits
       non-zero; that is a failure, never a smaller "N passed". #>
    param(
        [string] $Project = "$root/tests/PuoOps.Tests/PuoOps.Tests.csproj",
        [string] $ResultsDirectory = (Join-Path $root 'out/test-results/xunit'),
        [string] $TestFilter = $Filter,
        [string[]] $ExtraArguments = @(),
        # Only the result: for tests of this function, whose inner runs fail on purpose.
        [switch] $Quiet
    )
    Remove-Item $ResultsDirectory -Recurse -Force -ErrorAction SilentlyContinue
    # dotnet test itself leaves empty temp folders behind: it gets a scratch TMPDIR, removed afterwards, and the test
    # host gets the caller's through a run settings file (dotnet test -e would move dotnet test's own folders there
    # too), so whatever is left in the caller's TMPDIR is the tests'.
    $testTemp = [IO.Path]::GetTempPath().TrimEnd('/')
    $toolTemp = (New-Item -ItemType Directory -Path (Join-Path $testTemp "dotnet-test-$([Guid]::NewGuid().ToString('N').Substring(0, 8))")).FullName
    $settings = Join-Path $toolTemp 'xunit.runsettings'
    $xml = [System.Security.SecurityElement]::Escape($testTemp)
    Set-Content -LiteralPath $settings -Value "<RunSettings><RunConfiguration><EnvironmentVariables><TMPDIR>$xml</TMPDIR></EnvironmentVariables></RunConfiguration></RunSettings>"
    $arguments = @('test', $Project, '-c', $Configuration, '--no-build', '-nologo', '--settings', $settings,
        '--logger', 'trx;LogFileName=xunit.trx', '--logger', 'console;verbosity=normal', '--results-directory', $ResultsDirectory) + $ExtraArguments
    if ($TestFilter) { $arguments += @('--filter', $TestFilter) }
    $outerTemp = $env:TMPDIR
    try {
        $env:TMPDIR = $toolTemp
        if ($Quiet) { & dotnet @arguments *> $null } else { & dotnet @arguments | Out-Host }
        $exit = $LASTEXITCODE
    }
    finally {
        $env:TMPDIR = $outerTemp
        Remove-Item -LiteralPath $toolTemp -Recurse -Force -ErrorAction SilentlyContinue
    }
    $result = [pscustomobject]@{ Suite = 'xUnit'; Passed = 0; Failed = 0; Skipped = 0; Problems = @(); SkipReasons = @() }
    $trx = Get-ChildItem $ResultsDirectory -Filter '*.trx' -Recurse -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($trx) {
        $xml = [xml](Get-Content $trx.FullName -Raw)
        $ns = @{ t = $xml.DocumentElement.NamespaceURI }
        $counters = (Select-Xml -Xml $xml -XPath '//t:ResultSummary/t:Counters' -Namespace $ns).Node
        $result.Passed = [int]$counters.passed
        $result.Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        # A skipped test is a result with outcome NotExecuted; the summary's notExecuted counter stays 0 for them.
        $result.SkipReasons = @(Select-Xml -Xml $xml -XPath "//t:UnitTestResult[@outcome='NotExecuted']" -Namespace $ns | ForEach-Object {
                $why = Select-Xml -Xml $_.Node -XPath './/t:Message | .//t:StdOut' -Namespace $ns | ForEach-Object { $_.Node.InnerText } | Select-Object -First 1
                "$($_.Node.testName): $(if ($why) { $why.Trim() } else { 'no reason given' })" })
        $result.Skipped = $result.SkipReasons.Count
        $runErrors = @(Select-Xml -Xml $xml -XPath "//t:RunInfo[@outcome='Error']/t:Text" -Namespace $ns | ForEach-Object { $_.Node.InnerText })
    }
    else { $runErrors = @('it wrote no TRX file') }
    if ($exit -ne 0 -and $result.Failed -eq 0) {
        $result.Failed = 1
        $result.Problems += "dotnet test exited with code $exit although no test failed: $(($runErrors + 'the test host crashed or the run was aborted') -join '; ')."
    }
    $result
}

function Invoke-PesterSuite {
    <# Runs Pester in a child pwsh that writes its counts, skip reasons and failed blocks to a JSON file and then exits 0.
       Any other exit (a crash, an unhandled error after the run) is a failure even when the file says all passed. #>
    param(
        # 'a,b' arrives as one string through pwsh -File.
        [string[]] $Path = $(if ($PesterPath) { $PesterPath -split ',' } else { "$root/tests/Pester" }),
        [string] $ResultFile = (Join-Path $root 'out/test-results/pester.json')
    )
    $null = New-Item -ItemType Directory -Path (Split-Path $ResultFile) -Force
    # A result left by an earlier run must not stand in for this one if Pester dies before writing.
    Remove-Item $ResultFile -ErrorAction SilentlyContinue
    $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-PesterModulePath)'
`$config = New-PesterConfiguration
`$config.Run.Path = @($(($Path | ForEach-Object { "'$($_ -replace "'", "''")'" }) -join ', '))
`$config.Run.PassThru = `$true
`$config.Output.Verbosity = 'Detailed'
`$r = Invoke-Pester -Configuration `$config
`$skipReasons = @(`$r.Skipped | ForEach-Object {
    `$why = @(`$_.ErrorRecord | ForEach-Object { `$_.Exception.Message }) -join ' '
    "`$(`$_.ExpandedPath): `$(if (`$why) { `$why } else { 'skipped with -Skip' })" })
[pscustomobject]@{ Passed = `$r.PassedCount; Failed = `$r.FailedCount + `$r.FailedBlocksCount + `$r.FailedContainersCount; Skipped = `$r.SkippedCount
    SkipReasons = `$skipReasons } | ConvertTo-Json | Set-Content '$ResultFile'
exit 0
"@
    $exit = Invoke-Pwsh @('-Command', $script)
    $result = [pscustomobject]@{ Suite = 'Pester'; Passed = 0; Failed = 0; Skipped = 0; Problems = @(); SkipReasons = @() }
    if (Test-Path $ResultFile) {
        $written = Get-Content $ResultFile -Raw | ConvertFrom-Json
        $result.Passed = [int]$written.Passed; $result.Failed = [int]$written.Failed; $result.Skipped = [int]$written.Skipped
        $result.SkipReasons = @($written.SkipReasons)
    }
    if (-not (Test-Path $ResultFile)) {
        $result.Failed += 1
        $result.Problems += "Pester's pwsh exited with code $exit before writing its results."
    }
    elseif ($exit -ne 0) {
        $result.Failed += 1
        $result.Problems += "Pester's pwsh exited with code $exit after the run."
    }
    elseif ($result.Passed + $result.Failed + $result.Skipped -eq 0) {
        # A wrong -PesterPath or a file that fails before discovery runs nothing, which must not read as green.
        $result.Problems += "Pester ran no test from $($Path -join ', ')."
    }
    $result
}

function New-TestTempDirectory {
    # The suites' TMPDIR: a fresh directory (sticky and world-writable like /tmp, for tests that run a child as another
    # user), so what the tests leave behind can be found and named instead of piling up in /tmp.
    $path = (& mktemp -d '/tmp/puo-test-XXXXXX').Trim()
    if ($LASTEXITCODE -ne 0) { throw 'mktemp could not create the test temp directory.' }
    & chmod 1777 $path
    $path
}

function Get-TempLeftover {
    <# What a test run left: anything in the suites' own TMPDIR, which fails the run, and any new entry in /tmp itself,
       which is only shown: everything the run starts gets a TMPDIR of its own (the build a scratch folder, the
       sandbox's daemons one under its root, the suites this one), and other processes on the machine share /tmp. #>
    param([string] $TestTemp, [string[]] $TmpBefore)
    $inOwn = @(Get-ChildItem -LiteralPath $TestTemp -Force -ErrorAction SilentlyContinue | ForEach-Object Name)
    $newInTmp = @(Get-ChildItem -LiteralPath '/tmp' -Force | ForEach-Object Name | Where-Object { $_ -notin $TmpBefore })
    [pscustomobject]@{ InTestTemp = $inOwn; NewInTmp = $newInTmp }
}

function Write-TestSummary {
    <# Prints the skip reasons and the problems, then the closing line; returns the process exit code. Under CI=true a
       skipped test fails the run: a service the suite needs that did not start must not pass as "nothing failed". #>
    param([object[]] $Totals, [string[]] $Problems = @())
    $passed = [int]($Totals | Measure-Object Passed -Sum).Sum
    $failed = [int]($Totals | Measure-Object Failed -Sum).Sum + $Problems.Count
    $skipped = [int]($Totals | Measure-Object Skipped -Sum).Sum
    $allProblems = @($Totals | ForEach-Object { $_.Problems }) + $Problems
    $reasons = @($Totals | ForEach-Object { $_.SkipReasons } | Where-Object { $_ })
    Write-Host ''
    foreach ($reason in $reasons) { Write-Host "Skipped: $reason" -ForegroundColor Yellow }
    if ($skipped -gt 0 -and $env:CI -eq 'true') {
        $allProblems += "CI=true: $skipped test(s) were skipped; under CI every test must run."
    }
    foreach ($problem in $allProblems) { Write-Host "FAILED: $problem" -ForegroundColor Red }
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $allProblems.Count -gt 0) { 1 } else { 0 }
}

# Dot-sourced (". ./build.ps1", as tests/Pester/Build.Tests.ps1 does): define the functions, run nothing.
if ($MyInvocation.InvocationName -eq '.') { return }

switch ($Task) {
    'Clean' {
        Remove-Item "$root/out" -Recurse -Force -ErrorAction SilentlyContinue
        Get-ChildItem $root -Include bin, obj -Directory -Recurse | Remove-Item -Recurse -Force
    }
    'Build' { Build-Module }
    'Sandbox' {
        Build-Module
        Start-Sandbox
        Get-SandboxGuide | Write-Host
    }
    'StopSandbox' { Stop-Sandbox }
    'Package' {
        Build-Module
        New-PuoPackage | ForEach-Object { Write-Host "Packaged $($_.FullName) ($($_.Length) bytes)" -ForegroundColor Green }
    }
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
        $tmpBefore = @(Get-ChildItem -LiteralPath '/tmp' -Force | ForEach-Object Name)
        Build-Module
        $env:PUO_MODULE_PATH = $moduleDir
        $totals = @()
        $problems = @()
        Start-Sandbox
        $testTemp = New-TestTempDirectory
        $outerTemp = $env:TMPDIR
        # Asked once, before TMPDIR is the tests': NuGet keeps a scratch folder in TMPDIR when asked where its packages are.
        $env:NUGET_PACKAGES = Get-NuGetPackagesPath
        try {
            $env:TMPDIR = $testTemp
            if ('xUnit' -in $Suite) { $totals += Invoke-XUnit }
            if ('Pester' -in $Suite) { $totals += Invoke-PesterSuite }
        }
        finally {
            $env:TMPDIR = $outerTemp
            Stop-Sandbox
        }
        $left = Get-TempLeftover -TestTemp $testTemp -TmpBefore ($tmpBefore + (Split-Path -Leaf $testTemp))
        if ($left.InTestTemp) { $problems += "the tests left $($left.InTestTemp.Count) entries in their temp directory: $($left.InTestTemp -join ', ')." }
        if ($left.NewInTmp) { Write-Host "New in /tmp since the run started (other processes may have made them): $($left.NewInTmp -join ', ')" }
        Remove-Item -LiteralPath $testTemp -Recurse -Force -ErrorAction SilentlyContinue
        exit (Write-TestSummary -Totals $totals -Problems $problems)
    }
}
