# The suite itself: it cannot pass by accident. build.ps1 honours the test runners' exit codes, a skip prints its
# reason and fails the run under CI=true, a service the suite needs that did not start fails the sandbox under
# CI=true, the product builds with warnings as errors, and the sandbox installs every program the scripts and tests
# run. Also checks the tests for what made runs pass or fail by chance: a hard-coded PostgreSQL major version, an
# assertion on elapsed time, a benchmark that does not shuffle its sides.

BeforeDiscovery {
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    # Programs run by name: PowerShell commands that resolve to applications, -FilePath of the sandbox's runners,
    # ProcessStartInfo and RunAsync in C#. Names built at run time (psql from the server's bin folder, nginx,
    # pg_dump located by major) come with the service packages below.
    $sources = Get-ChildItem -Path "$repo/tests", "$repo/tools", "$repo/build.ps1" -Recurse -File -Include '*.ps1', '*.psm1', '*.cs' | Where-Object { $_.FullName -notmatch '/(bin|obj)/' }
    $scripts = $sources | Where-Object Extension -ne '.cs'
    $ownFunctions = $scripts | ForEach-Object {
        [System.Management.Automation.Language.Parser]::ParseFile($_.FullName, [ref]$null, [ref]$null).FindAll({ $args[0] -is [System.Management.Automation.Language.FunctionDefinitionAst] }, $true).Name
    }
    $programs = [System.Collections.Generic.SortedSet[string]]::new()
    $names = [System.Collections.Generic.HashSet[string]]::new()
    foreach ($file in $scripts) {
        $ast = [System.Management.Automation.Language.Parser]::ParseFile($file.FullName, [ref]$null, [ref]$null)
        foreach ($command in $ast.FindAll({ $args[0] -is [System.Management.Automation.Language.CommandAst] }, $true)) {
            $name = $command.GetCommandName()
            if ($name) { $null = $names.Add($name) }
            if ($name -in 'Invoke-Tool', 'Invoke-Detached', 'Start-Background') {
                $at = [array]::FindIndex([object[]]$command.CommandElements, [Predicate[object]] { param($e) $e -is [System.Management.Automation.Language.CommandParameterAst] -and $e.ParameterName -eq 'FilePath' })
                $value = if ($at -ge 0) { $command.CommandElements[$at + 1] }
                if ($value -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $null = $programs.Add($value.Value) }
            }
        }
    }
    foreach ($name in $names) {
        if ($name -notin $ownFunctions -and (Get-Command $name -CommandType Application -ErrorAction Ignore) -and
            -not (Get-Command $name -CommandType Cmdlet, Function, Alias -ErrorAction Ignore)) { $null = $programs.Add($name) }
    }
    foreach ($file in $sources | Where-Object Extension -eq '.cs') {
        foreach ($match in [regex]::Matches((Get-Content $file.FullName -Raw), '(?:ProcessStartInfo|RunAsync)\("([A-Za-z0-9_./-]+)"')) { $null = $programs.Add($match.Groups[1].Value) }
    }
    $null = $programs.Remove('dotnet')   # the .NET SDK runs build.ps1 itself: .ci/run's one prerequisite
    $programs = @($programs | ForEach-Object { @{ Program = $_ } })
}

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $script:repo = (Resolve-Path "$PSScriptRoot/../..").Path
    # build.ps1 and Sandbox.ps1 only define their functions when dot-sourced.
    . "$repo/build.ps1"
    . "$repo/tests/Sandbox/Sandbox.ps1"
    $ErrorActionPreference = 'Stop'

    function Use-Environment([hashtable] $Variables, [scriptblock] $Script) {
        # Runs $Script with process environment variables set (a null value removes one), then puts them back.
        $saved = @{}
        foreach ($name in $Variables.Keys) { $saved[$name] = [Environment]::GetEnvironmentVariable($name); [Environment]::SetEnvironmentVariable($name, $Variables[$name]) }
        try { & $Script }
        finally { foreach ($name in $saved.Keys) { [Environment]::SetEnvironmentVariable($name, $saved[$name]) } }
    }

    function Get-SourceFile([string[]] $Include) {
        Get-ChildItem -Path "$repo/tests", "$repo/tools", "$repo/bench", "$repo/build.ps1" -Recurse -File -Include $Include |
            Where-Object { $_.FullName -notmatch '/(bin|obj)/' }
    }
}

Describe 'build.ps1 counts what the test runners say, not only what they wrote' {
    It 'a test host that dies mid-run is a failure with its reason, not a smaller "N passed"' {
        # A test project of two tests, built here with the suite's own xUnit packages: one passes, the other ends the
        # test host, as a stack overflow or an Environment.Exit in the code under test would. The TRX then lists only
        # the tests that finished, all passed; dotnet test's exit code is what tells.
        $project = New-Item -ItemType Directory "$TestDrive/crash"
        $references = Select-Xml -Path "$repo/tests/PuoOps.Tests/PuoOps.Tests.csproj" -XPath '//PackageReference' | ForEach-Object Node |
            Where-Object { $_.Include -in 'Microsoft.NET.Test.Sdk', 'xunit', 'xunit.runner.visualstudio' } |
            ForEach-Object { "<PackageReference Include=`"$($_.Include)`" Version=`"$($_.Version)`" />" }
        Set-Content "$project/Crash.csproj" -Value "<Project Sdk=`"Microsoft.NET.Sdk`"><PropertyGroup><TargetFramework>net10.0</TargetFramework><IsPackable>false</IsPackable></PropertyGroup><ItemGroup>$($references -join '')</ItemGroup></Project>"
        Set-Content "$project/Tests.cs" -Value @'
public class Arithmetic { [Xunit.Fact] public void Adds() => Xunit.Assert.Equal(2, 1 + 1); }
public class HostKiller { [Xunit.Fact] public void Ends_the_test_host() => System.Environment.Exit(3); }
'@
        # No build servers, so nothing outlives the build; its temp files go with TestDrive.
        $result = Use-Environment @{ TMPDIR = (New-Item -ItemType Directory "$TestDrive/tmp").FullName } {
            & dotnet build "$project/Crash.csproj" -c $Configuration -nologo -v q --disable-build-servers | Out-Host
            if ($LASTEXITCODE) { throw "Building the crash project failed (exit $LASTEXITCODE)." }
            Invoke-XUnit -Project "$project/Crash.csproj" -ResultsDirectory "$TestDrive/xunit" -TestFilter '' -Quiet
        }
        $result.Failed | Should -BeGreaterOrEqual 1
        ($result.Problems -join ' ') | Should -Match 'dotnet test exited with code [1-9]'
        ($result.Problems -join ' ') | Should -Match 'aborted|crashed'
    }

    It 'a Pester host that dies mid-run is a failure naming its exit code' {
        Set-Content "$TestDrive/Dies.Tests.ps1" -Value @'
Describe 'a host that dies' {
    It 'passes first' { 1 | Should -Be 1 }
    It 'then the process exits' { [Environment]::Exit(3) }
}
'@
        # The dying run leaves its own TestDrive behind: let it be inside this test's.
        $result = Use-Environment @{ TMPDIR = (New-Item -ItemType Directory "$TestDrive/pester-tmp").FullName } {
            Invoke-PesterSuite -Path "$TestDrive/Dies.Tests.ps1" -ResultFile "$TestDrive/pester.json"
        }
        $result.Failed | Should -BeGreaterOrEqual 1
        ($result.Problems -join ' ') | Should -Match 'exited with code 3'
    }

    It 'prints every skip with its reason and counts it; under CI=true a skip fails the run' {
        $totals = @([pscustomobject]@{ Suite = 'xUnit'; Passed = 3; Failed = 0; Skipped = 1; Problems = @()
                SkipReasons = @("A.Test: The sandbox's Docker engine is not available: dockerd needs root") })
        $outside = Use-Environment @{ CI = $null } { Write-TestSummary -Totals $totals 6>&1 }
        $outside[-1] | Should -Be 0
        ($outside -join "`n") | Should -Match "Skipped: A.Test: The sandbox's Docker engine is not available: dockerd needs root"
        ($outside -join "`n") | Should -Match '3 passed, 0 failed, 1 skipped'

        $inCi = Use-Environment @{ CI = 'true' } { Write-TestSummary -Totals $totals 6>&1 }
        $inCi[-1] | Should -Be 1
        ($inCi -join "`n") | Should -Match 'CI=true: 1 test\(s\) were skipped'
    }

    It 'an xUnit test skipped because Docker did not start is counted, with the sandbox''s reason; under CI=true it runs and fails' {
        # The sandbox's state as it is when dockerd could not start.
        $state = Get-Content $env:PUO_SANDBOX_STATE -Raw | ConvertFrom-Json -AsHashtable
        $state.Docker = @{ Available = $false; Error = 'dockerd needs root'; Host = 'unix:///nonexistent/docker.sock'; Image = 'none' }
        $state | ConvertTo-Json -Depth 6 | Set-Content "$TestDrive/no-docker.json"
        $run = @{ TMPDIR = (New-Item -ItemType Directory "$TestDrive/xunit-skip-tmp").FullName; PUO_SANDBOX_STATE = "$TestDrive/no-docker.json" }
        $filter = 'FullyQualifiedName~PuoOps.Tests.Docker.SwarmTests'
        $skipped = Use-Environment ($run + @{ CI = $null }) { Invoke-XUnit -ResultsDirectory "$TestDrive/xunit-skip" -TestFilter $filter -Quiet }
        $skipped.Skipped | Should -BeGreaterThan 0
        $skipped.Passed | Should -Be 0
        $skipped.SkipReasons | Should -HaveCount $skipped.Skipped
        $skipped.SkipReasons | ForEach-Object { $_ | Should -Match "^PuoOps\.Tests\.Docker\.SwarmTests\..*: The sandbox's Docker engine is not available: dockerd needs root" }

        $inCi = Use-Environment ($run + @{ CI = 'true' }) { Invoke-XUnit -ResultsDirectory "$TestDrive/xunit-ci" -TestFilter $filter -Quiet }
        $inCi.Skipped | Should -Be 0
        $inCi.Failed | Should -Be $skipped.Skipped
    }
}

Describe 'Under CI=true a service the suite needs must run' {
    It 'a Docker engine that did not start fails the sandbox start with its reason; outside CI the start goes on' {
        $docker = [ordered]@{ Available = $false; Error = 'dockerd exited during startup: cannot mount overlay' }
        { Use-Environment @{ CI = 'true' } { Confirm-ServiceStarted 'Docker' $docker } } | Should -Throw '*Docker did not start: dockerd exited during startup: cannot mount overlay*'
        { Use-Environment @{ CI = $null } { Confirm-ServiceStarted 'Docker' $docker } } | Should -Not -Throw
    }

    It 'the Pester tests that need Docker run (and fail) under CI=true, and say why they skip elsewhere' {
        $state = Get-Content $env:PUO_SANDBOX_STATE -Raw | ConvertFrom-Json -AsHashtable
        $state.Docker = @{ Available = $false; Error = 'dockerd needs root' }
        $stateFile = "$TestDrive/state.json"
        $state | ConvertTo-Json -Depth 6 | Set-Content $stateFile
        Use-Environment @{ PUO_SANDBOX_STATE = $stateFile; CI = 'true' } { Get-PuoSkipReason Docker } | Should -BeNullOrEmpty
        $reason = Use-Environment @{ PUO_SANDBOX_STATE = $stateFile; CI = $null } { Get-PuoSkipReason Docker 6>$null }
        $reason | Should -Match 'dockerd needs root'
    }
}

Describe 'Warnings' {
    It 'product projects build with warnings as errors' -ForEach @('src/PuoOps/PuoOps.csproj', 'src/PuoOps.Engine/PuoOps.Engine.csproj') {
        (& dotnet msbuild "$repo/$_" -nologo -getProperty:TreatWarningsAsErrors).Trim() | Should -Be 'true'
    }

    It 'the test project shows its warnings and build.ps1 hides none' {
        (& dotnet msbuild "$repo/tests/PuoOps.Tests/PuoOps.Tests.csproj" -nologo -getProperty:TreatWarningsAsErrors).Trim() | Should -Not -Be 'true'
        (Get-Command Build-Module).Definition | Should -Not -Match 'ErrorsOnly|-clp:|NoWarn'
    }
}

Describe 'A fresh Debian machine: the sandbox installs every program the scripts and tests run' {
    BeforeAll {
        $installed = @($PackageMap.Values | ForEach-Object { $_ })
    }

    It 'finds the programs (a sanity check of the search itself)' -ForEach @(@{ Found = $programs.ForEach({ $_.Program }) }) {
        $Found | Should -Contain 'curl'
        $Found | Should -Contain 'redis-cli'
        $Found | Should -Contain 'docker'
        $Found | Should -Contain '/bin/kill'
    }

    It '<Program> comes from a package the sandbox installs, or one every Debian system has' -ForEach $programs {
        # Every copy on PATH (a machine may have its own in /usr/local/bin besides the package's), by the path its package
        # ships (/bin or /usr/bin on a merged-/usr system) and the target of a link.
        $paths = if ($Program.StartsWith('/')) { @($Program) } else { @(Get-Command $Program -CommandType Application -All -ErrorAction Ignore | ForEach-Object Source) }
        $paths | Should -Not -BeNullOrEmpty -Because "$Program must be installed"
        $candidates = $paths | ForEach-Object { $_; $_ -replace '^/usr/', '/'; $_ -replace '^/(s?bin)/', '/usr/$1/'; (Get-Item $_).ResolvedTarget } | Select-Object -Unique
        # "package[:arch][, other]: path"; a diverted file also has "diversion by ..." lines.
        $packages = @(& dpkg-query -S @candidates 2>$null | Where-Object { $_ -notlike 'diversion by*' } |
                ForEach-Object { ($_ -split ': ', 2)[0].Split(', ')[0] -replace ':.*$', '' } | Select-Object -Unique)
        $packages | Should -Not -BeNullOrEmpty -Because "dpkg must know which package ships $($paths -join ' or ')"
        $ok = $packages | Where-Object { $_ -in $installed -or (& dpkg-query -W -f '${Essential} ${Priority}' $_) -match '^yes|required$' }
        $ok | Should -Not -BeNullOrEmpty -Because "$Program comes from $($packages -join ' or '), which is neither in Sandbox.ps1's PackageMap nor Essential/required"
    }
}

Describe 'Nothing that lets a run pass or fail by chance' {
    It 'no test names a PostgreSQL major version: they use the one the sandbox found' {
        Get-SourceFile '*.cs', '*.ps1', '*.psm1' | Where-Object { $_.FullName -like "$repo/tests/*" } |
            Select-String -Pattern 'postgresql/[0-9]+/' | ForEach-Object { "$($_.Path):$($_.LineNumber)" } | Should -BeNullOrEmpty
    }

    It 'no test asserts on elapsed time: they wait for a condition with a deadline and assert the outcome' {
        $csharp = Get-SourceFile '*.cs' | Select-String -Pattern 'Assert\.[A-Za-z]+\(.*\b(Elapsed|Stopwatch)\b'
        $pester = Get-SourceFile '*.ps1' | Where-Object { $_.FullName -like "$repo/tests/*" -and $_.Name -ne 'Build.Tests.ps1' } | Select-String -Pattern '(Elapsed|Measure-Command|Stopwatch).*Should|Should.*(Elapsed|Stopwatch)'
        @($csharp) + @($pester) | ForEach-Object { "$($_.Path):$($_.LineNumber): $($_.Line.Trim())" } | Should -BeNullOrEmpty
    }

    It 'nothing names a fixed path in /tmp but the sandbox roots and build.ps1''s own temp folders (all else follows TMPDIR)' {
        # unix:///tmp/... Docker hosts in tests name sockets that must not exist; they are connected to, never created.
        Get-SourceFile '*.cs', '*.ps1', '*.psm1' | Where-Object Name -ne 'Build.Tests.ps1' |
            Select-String -Pattern '[''"]/tmp/' | Where-Object { $_.Line -notmatch '/tmp/puo-(sandbox|test|build)-' -and $_.Line.TrimStart() -notmatch '^(#|//)' } |
            ForEach-Object { "$($_.Path):$($_.LineNumber): $($_.Line.Trim())" } | Should -BeNullOrEmpty
    }

    It 'every benchmark runs the sides it compares in a random order each round' {
        $benches = Get-ChildItem "$repo/bench" -Recurse -File -Include '*.bench.ps1', '*.sh'
        $benches | Should -Not -BeNullOrEmpty
        $benches | Where-Object { (Get-Content $_.FullName -Raw) -notmatch 'Invoke-BenchRound|\bshuf\b' } | ForEach-Object FullName | Should -BeNullOrEmpty
    }
}
