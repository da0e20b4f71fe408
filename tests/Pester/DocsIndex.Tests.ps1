# The cmdlet index of README.md and docs/cmdlets/README.md is generated (tools/Update-PuoDocsIndex.ps1) from the same
# pages as Get-Help, grouped by runbook section: it must be current, and every exported cmdlet must be in it.

BeforeAll {
    $repo = (Resolve-Path "$PSScriptRoot/../..").Path
    $tool = Join-Path $repo 'tools/Update-PuoDocsIndex.ps1'
    $exported = (Import-PowerShellDataFile (Join-Path $repo 'PuoOps.psd1')).CmdletsToExport

    function Copy-DocsInput([string] $Name) {
        # What the tool reads and writes, copied into a scratch repository: the tool, the manifest, both READMEs, the pages.
        $copy = Join-Path $TestDrive $Name
        $null = New-Item -ItemType Directory -Path "$copy/tools", "$copy/docs/cmdlets"
        Copy-Item -LiteralPath $tool -Destination "$copy/tools/"
        Copy-Item -LiteralPath (Join-Path $repo 'PuoOps.psd1'), (Join-Path $repo 'README.md') -Destination $copy
        Copy-Item -Path (Join-Path $repo 'docs/cmdlets/*.md') -Destination "$copy/docs/cmdlets/"
        $copy
    }
}

Describe 'The generated cmdlet index' {
    It 'is current in README.md and docs/cmdlets/README.md (else run tools/Update-PuoDocsIndex.ps1)' {
        $stale = & $tool -Check
        $stale | Should -BeNullOrEmpty -Because 'a page''s Runbook line or synopsis changed since the index was written'
    }

    It 'links every exported cmdlet once from each index, under the section its page names' {
        foreach ($file in 'README.md', 'docs/cmdlets/README.md') {
            $text = Get-Content -LiteralPath (Join-Path $repo $file) -Raw
            foreach ($name in $exported) {
                [regex]::Matches($text, "\[$([regex]::Escape($name))\]\(").Count | Should -Be 1 -Because "$file links $name once"
            }
        }
        $page = Get-Content -LiteralPath (Join-Path $repo 'docs/cmdlets/Invoke-PuoReindex.md') -TotalCount 3
        $page | Should -Contain 'Runbook: Database Maintenance > Index Maintenance'
        (Get-Content -LiteralPath (Join-Path $repo 'README.md') -Raw) |
            Should -Match '\| Database Maintenance: Index Maintenance \|[^\n]*\[Invoke-PuoReindex\]'
    }

    It 'detects a stale index and names the file, without writing' {
        # A copy of the repository's inputs in which one synopsis changed: the check must name both indexes.
        $copy = Copy-DocsInput 'repo'
        $page = "$copy/docs/cmdlets/Get-PuoTableSize.md"
        (Get-Content -LiteralPath $page -Raw) -replace '(?m)(?<=^## SYNOPSIS\r?\n).*', 'A changed synopsis.' | Set-Content -LiteralPath $page -NoNewline
        $before = Get-Content -LiteralPath "$copy/README.md" -Raw
        $stale = & "$copy/tools/Update-PuoDocsIndex.ps1" -Check
        @($stale | ForEach-Object { [IO.Path]::GetRelativePath($copy, $_) }) | Should -Be @('docs/cmdlets/README.md') -Because 'only the docs index shows synopses'
        Get-Content -LiteralPath "$copy/README.md" -Raw | Should -BeExactly $before

        (Get-Content -LiteralPath $page -Raw) -replace 'Runbook: Database Maintenance > Regular Maintenance', 'Runbook: Backup and Recovery > Backup Failure' |
            Set-Content -LiteralPath $page -NoNewline
        @(& "$copy/tools/Update-PuoDocsIndex.ps1" -Check).Count | Should -Be 2
        $null = & "$copy/tools/Update-PuoDocsIndex.ps1" 6>$null
        & "$copy/tools/Update-PuoDocsIndex.ps1" -Check | Should -BeNullOrEmpty
        (Get-Content -LiteralPath "$copy/README.md" -Raw) | Should -Match '\| Backup and Recovery: Backup Failure \|[^\n]*\[Get-PuoTableSize\]'
    }

    It 'refuses a page without a Runbook line, naming it' {
        $copy = Copy-DocsInput 'norunbook'
        $page = "$copy/docs/cmdlets/Stop-PuoQuery.md"
        (Get-Content -LiteralPath $page) | Where-Object { $_ -notmatch '^Runbook:' } | Set-Content -LiteralPath $page
        { & "$copy/tools/Update-PuoDocsIndex.ps1" -Check } | Should -Throw '*Stop-PuoQuery.md has no*Runbook*'
    }
}
