# tools/New-PuoHelp.ps1 refuses incomplete help, naming the cmdlet and what is missing, and writes valid MAML otherwise.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    $generator = Join-Path $PSScriptRoot '../../tools/New-PuoHelp.ps1'

    function Invoke-Generator([string] $SourcePath, [string] $OutputPath) {
        # In a child pwsh, as the build runs it: the exit code and everything it printed.
        $pwsh = Join-Path $PSHOME 'pwsh'
        $arguments = @('-NoProfile', '-NonInteractive', '-File', $generator, '-ModulePath', $env:PUO_MODULE_PATH,
            '-SourcePath', $SourcePath, '-OutputPath', $OutputPath)
        $output = if (Test-Path $pwsh) { & $pwsh @arguments 2>&1 } else { & dotnet (Join-Path $PSHOME 'pwsh.dll') @arguments 2>&1 }
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Text = ($output | ForEach-Object { "$_" }) -join "`n" }
    }
}

Describe 'New-PuoHelp.ps1 with the repository''s docs/cmdlets' {
    BeforeAll {
        $output = Join-Path $TestDrive 'good/PuoOps.dll-Help.xml'
        $result = Invoke-Generator (Join-Path $PSScriptRoot '../../docs/cmdlets') $output
    }

    It 'succeeds' {
        $result.ExitCode | Should -Be 0 -Because $result.Text
    }

    It 'writes one command:command with a syntax item per parameter set for every exported cmdlet' {
        Import-PuoModule
        $xml = [xml](Get-Content $output -Raw)
        $xml.helpItems.schema | Should -Be 'maml'
        $cmdlets = @(Get-Command -Module PuoOps -CommandType Cmdlet)
        # Elements only: the xmlns:command attribute would answer to .command too.
        $entries = @($xml.helpItems.ChildNodes | Where-Object { $_.NodeType -eq 'Element' -and $_.LocalName -eq 'command' })
        $entries.Count | Should -Be $cmdlets.Count
        foreach ($cmdlet in $cmdlets) {
            $entry = $entries | Where-Object { $_.details.name -eq $cmdlet.Name }
            @($entry.syntax.syntaxItem).Count | Should -Be $cmdlet.ParameterSets.Count -Because "$($cmdlet.Name) has $($cmdlet.ParameterSets.Count) parameter set(s)"
        }
    }
}

Describe 'New-PuoHelp.ps1 with incomplete help' {
    BeforeAll {
        $docs = Join-Path $TestDrive 'docs'
        Copy-Item (Join-Path $PSScriptRoot '../../docs/cmdlets') $docs -Recurse
        function Edit-Doc([string] $Name, [scriptblock] $Change) {
            $path = Join-Path $docs "$Name.md"
            [IO.File]::WriteAllText($path, (& $Change ([IO.File]::ReadAllText($path))))
        }
        Remove-Item (Join-Path $docs 'Test-PuoPostgres.md')
        Edit-Doc 'Get-PuoSlowQuery' { param($t) $t -replace '(?s)## SYNOPSIS.*?(?=## DESCRIPTION)', '' }
        Edit-Doc 'Get-PuoEnvironment' { param($t) $t -replace '(?s)## DESCRIPTION.*?(?=## EXAMPLES)', "## DESCRIPTION`n`n" }
        Edit-Doc 'Disconnect-PuoEnvironment' { param($t) $t -replace '(?s)### Example 2:.*?(?=## PARAMETERS)', '' }
        Edit-Doc 'Get-PuoConnectionStat' { param($t) $t -replace '### -WarningPercent', '### -NoSuchParameter' }
        Edit-Doc 'Get-PuoTableSize' { param($t) $t -replace '(?s)```check.*?```\n', '' }
        Set-Content (Join-Path $docs 'Get-PuoNothing.md') "# Get-PuoNothing`n`n## SYNOPSIS`nStale.`n"
        $output = Join-Path $TestDrive 'bad/PuoOps.dll-Help.xml'
        $result = Invoke-Generator $docs $output
    }

    It 'fails and writes no help file' {
        $result.ExitCode | Should -Not -Be 0
        Test-Path $output | Should -BeFalse
    }

    It 'names <Cmdlet>: <Problem>' -ForEach @(
        @{ Cmdlet = 'Test-PuoPostgres'; Problem = 'no help source' }
        @{ Cmdlet = 'Get-PuoSlowQuery'; Problem = "'## SYNOPSIS' is missing or empty" }
        @{ Cmdlet = 'Get-PuoEnvironment'; Problem = "'## DESCRIPTION' is missing or empty" }
        @{ Cmdlet = 'Disconnect-PuoEnvironment'; Problem = '1 example(s); at least 2 are needed' }
        @{ Cmdlet = 'Get-PuoConnectionStat'; Problem = 'parameter -WarningPercent has no description' }
        @{ Cmdlet = 'Get-PuoConnectionStat'; Problem = 'documents -NoSuchParameter, which the cmdlet does not have' }
        @{ Cmdlet = 'Get-PuoNothing'; Problem = 'documents a cmdlet the module does not export' }
        @{ Cmdlet = 'Get-PuoTableSize'; Problem = 'has no ```check block asserting its outcome' }
    ) {
        $lines = $result.Text -split "`n" | Where-Object { $_.Contains("$($Cmdlet)") -and $_.Contains($Problem) }
        $lines | Should -Not -BeNullOrEmpty -Because "the output was:`n$($result.Text)"
    }
}
