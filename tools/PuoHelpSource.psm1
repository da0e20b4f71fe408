# The reader of the help sources in docs/cmdlets (format: docs/cmdlets/README.md). tools/New-PuoHelp.ps1 turns what
# it reads into MAML; tests/Pester/Help.Tests.ps1 runs the examples and their checks from the same reading.

Set-StrictMode -Version Latest

$Sections = 'SYNOPSIS', 'DESCRIPTION', 'EXAMPLES', 'PARAMETERS', 'INPUTS', 'OUTPUTS', 'NOTES', 'RELATED LINKS'
# A remark that starts with this marks an example the tests cannot run as written; the rest of it says why.
$NotRunMarker = 'Not run by the tests:'

function Split-Heading {
    # Splits lines at headings of one level ('## ' or '### '), ignoring '#' inside fenced code.
    # Returns the text before the first heading as .Preamble and an ordered list of @{ Title; Lines }.
    param([string[]] $Lines, [int] $Level)
    $marker = ('#' * $Level) + ' '
    $preamble = [System.Collections.Generic.List[string]]::new()
    $parts = [System.Collections.Generic.List[object]]::new()
    $current = $null
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*```') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($marker)) {
            $current = [pscustomobject]@{ Title = $line.Substring($marker.Length).Trim(); Lines = [System.Collections.Generic.List[string]]::new() }
            $parts.Add($current)
        }
        elseif ($current) { $current.Lines.Add($line) }
        else { $preamble.Add($line) }
    }
    [pscustomobject]@{ Preamble = $preamble.ToArray(); Parts = $parts.ToArray() }
}

function ConvertTo-Paragraph {
    # Markdown text to help paragraphs: blank lines separate paragraphs, wrapped lines are joined,
    # list items stay one per paragraph, and a fenced block is kept verbatim as one paragraph.
    param([string[]] $Lines)
    $paragraphs = [System.Collections.Generic.List[string]]::new()
    $buffer = [System.Collections.Generic.List[string]]::new()
    $fence = $null
    $flush = {
        if ($buffer.Count) { $paragraphs.Add(($buffer -join ' ').Trim()); $buffer.Clear() }
    }
    foreach ($line in $Lines) {
        if ($null -ne $fence) {
            if ($line -match '^\s*```') { $paragraphs.Add(($fence -join "`n")); $fence = $null }
            else { $fence.Add($line) }
            continue
        }
        if ($line -match '^\s*```') { & $flush; $fence = [System.Collections.Generic.List[string]]::new(); continue }
        if ($line -match '^\s*$') { & $flush; continue }
        if ($line -match '^\s*([-*+]|\d+\.)\s') { & $flush }
        $buffer.Add($line.Trim())
    }
    & $flush
    if ($null -ne $fence) { throw 'a fenced code block is not closed' }
    , $paragraphs.ToArray()
}

function Read-ParameterSection {
    # '### -Name' + description paragraphs, as an ordered name -> paragraphs map.
    param([string[]] $Lines, [string] $Where, [System.Collections.Generic.List[string]] $Problems)
    $map = [ordered]@{}
    foreach ($part in (Split-Heading $Lines 3).Parts) {
        if ($part.Title -notmatch '^-(\w+)$') { $Problems.Add("${Where}: parameter heading '### $($part.Title)' must be '### -Name'."); continue }
        $map[$Matches[1]] = ConvertTo-Paragraph $part.Lines
    }
    $map
}

function Read-CmdletMarkdown {
    # One docs/cmdlets/<Name>.md as an object; problems with its shape go to $Problems.
    param([string] $Path, [string] $Name, [System.Collections.Generic.List[string]] $Problems)
    $where = "$Name ($([IO.Path]::GetFileName($Path)))"
    $top = Split-Heading ([IO.File]::ReadAllLines($Path)) 2
    $title = $top.Preamble | Where-Object { $_ -match '^# ' } | Select-Object -First 1
    if ($title -ne "# $Name") { $Problems.Add("${where}: the first line must be '# $Name'.") }
    $doc = [ordered]@{ Synopsis = ''; Description = @(); Examples = @(); Parameters = [ordered]@{}; Inputs = @(); Outputs = @(); Notes = @(); Links = @() }
    foreach ($section in $top.Parts) {
        $key = $section.Title.ToUpperInvariant()
        if ($key -notin $Sections) {
            $Problems.Add("${where}: unknown section '## $($section.Title)' (allowed: $($Sections -join ', '); SYNTAX is generated).")
            continue
        }
        try {
            switch ($key) {
                'SYNOPSIS' { $doc.Synopsis = (ConvertTo-Paragraph $section.Lines) -join ' ' }
                'DESCRIPTION' { $doc.Description = ConvertTo-Paragraph $section.Lines }
                'NOTES' { $doc.Notes = ConvertTo-Paragraph $section.Lines }
                'PARAMETERS' { $doc.Parameters = Read-ParameterSection $section.Lines $where $Problems }
                'EXAMPLES' { $doc.Examples = @(Read-Example $section.Lines $where $Problems) }
                { $_ -in 'INPUTS', 'OUTPUTS' } {
                    $doc[$key.Substring(0, 1) + $key.Substring(1).ToLowerInvariant()] = @((Split-Heading $section.Lines 3).Parts |
                            ForEach-Object { [pscustomobject]@{ Type = $_.Title; Description = ConvertTo-Paragraph $_.Lines } })
                }
                'RELATED LINKS' { $doc.Links = @(Read-Link $section.Lines) }
            }
        }
        catch { $Problems.Add("${where}, section $($key): $($_.Exception.Message).") }
    }
    [pscustomobject]$doc
}

function Read-Example {
    # '### Example N: title', one ```powershell block (the code), then remarks. The examples test also runs at most one
    # of each: ```setup (before the example), ```check (its assertions, after it) and ```cleanup (always, last); Get-Help
    # shows none of them. A remark starting with $NotRunMarker exempts the example from the test.
    param([string[]] $Lines, [string] $Where, [System.Collections.Generic.List[string]] $Problems)
    foreach ($part in (Split-Heading $Lines 3).Parts) {
        if ($part.Title -notmatch '^Example \d+:\s*\S') { $Problems.Add("${Where}: example heading '### $($part.Title)' must be '### Example N: title'.") }
        $blocks = @{}
        foreach ($kind in 'powershell', 'setup', 'check', 'cleanup') { $blocks[$kind] = [System.Collections.Generic.List[string]]::new() }
        $remarks = [System.Collections.Generic.List[string]]::new()
        $fence = $null
        $language = $null
        foreach ($line in $part.Lines) {
            if ($null -ne $fence) {
                if ($line -match '^\s*```\s*$') { $blocks[$language].Add(($fence -join "`n").Trim()); $fence = $null } else { $fence.Add($line) }
            }
            elseif ($line -match '^\s*```\s*(\w*)') {
                $language = $Matches[1]
                if (-not $blocks.ContainsKey($language)) {
                    $Problems.Add("${Where}, '$($part.Title)': a code block must be fenced as ``````powershell (the example), ``````setup, ``````check or ``````cleanup.")
                    $language = 'powershell'
                }
                $fence = [System.Collections.Generic.List[string]]::new()
            }
            else { $remarks.Add($line) }
        }
        $code = $blocks.powershell | Select-Object -First 1
        if ($blocks.powershell.Count -ne 1 -or -not $code) { $Problems.Add("${Where}, '$($part.Title)': needs exactly one non-empty ``````powershell block (found $($blocks.powershell.Count)).") }
        foreach ($kind in 'setup', 'check', 'cleanup') {
            if ($blocks[$kind].Count -gt 1) { $Problems.Add("${Where}, '$($part.Title)': at most one ``````$kind block (found $($blocks[$kind].Count)).") }
        }
        $paragraphs = ConvertTo-Paragraph $remarks
        $notRun = $paragraphs | Where-Object { $_.StartsWith($NotRunMarker) } | Select-Object -First 1
        if ($null -ne $notRun -and -not $notRun.Substring($NotRunMarker.Length).Trim()) {
            $Problems.Add("${Where}, '$($part.Title)': '$NotRunMarker' must say why.")
        }
        [pscustomobject]@{
            Title   = $part.Title
            Code    = $code
            Setup   = $blocks.setup | Select-Object -First 1
            Check   = $blocks.check | Select-Object -First 1
            Cleanup = $blocks.cleanup | Select-Object -First 1
            NotRun  = if ($notRun) { $notRun.Substring($NotRunMarker.Length).Trim() }
            Remarks = $paragraphs
        }
    }
}

function Read-Link {
    # '- [Text](uri)', '- [Cmdlet-Name]()' or '- Cmdlet-Name'.
    param([string[]] $Lines)
    foreach ($line in $Lines) {
        if ($line -match '^\s*[-*+]\s+\[([^\]]+)\]\(([^)]*)\)') { [pscustomobject]@{ Text = $Matches[1]; Uri = $Matches[2] } }
        elseif ($line -match '^\s*[-*+]\s+(\S.*)$') { [pscustomobject]@{ Text = $Matches[1].Trim(); Uri = '' } }
    }
}

Export-ModuleMember -Function Read-CmdletMarkdown, Read-ParameterSection
