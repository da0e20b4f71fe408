<#
.SYNOPSIS
    Shared by every benchmark: rounds whose sides run in a fresh random order, and medians. Run back to back in a
    fixed order, the first side of a pair measured up to 20 % faster than the second on these machines whatever it
    was (a warmer cache, a quieter neighbour), so no benchmark compares sides in a fixed order.
#>
$ErrorActionPreference = 'Stop'

function Invoke-BenchRound {
    <#
    .SYNOPSIS
        Runs each side once, in a random order, and returns a hashtable of side name -> what its script block returned
        (its time). Each script block times itself, so set-up and checks stay outside the measurement.
    #>
    param([Parameter(Mandatory)] [System.Collections.IDictionary] $Sides)
    $results = @{}
    foreach ($name in @($Sides.Keys) | Get-Random -Shuffle) { $results[$name] = & $Sides[$name] }
    $results
}

function Get-Median([double[]] $Values) {
    $s = $Values | Sort-Object
    if ($s.Count % 2) { $s[[int][math]::Floor($s.Count / 2)] } else { ($s[$s.Count / 2 - 1] + $s[$s.Count / 2]) / 2 }
}

function Start-BenchSandbox {
    <#
    .SYNOPSIS
        Starts a sandbox of the benchmark's own (tests/Sandbox/Sandbox.ps1 with -Arguments) and returns its state file.
    #>
    param([Parameter(Mandatory)] [string] $Name, [string[]] $Arguments = @())
    $stateFile = Join-Path ([IO.Path]::GetTempPath()) "puo-bench-$Name-$PID.json"
    & dotnet "$PSHOME/pwsh.dll" -NoProfile -File "$PSScriptRoot/../tests/Sandbox/Sandbox.ps1" -Action Start -StateFile $stateFile @Arguments | Out-Null
    if ($LASTEXITCODE) { throw 'Sandbox start failed.' }
    $stateFile
}

function Stop-BenchSandbox([Parameter(Mandatory)] [string] $StateFile) {
    & dotnet "$PSHOME/pwsh.dll" -NoProfile -File "$PSScriptRoot/../tests/Sandbox/Sandbox.ps1" -Action Stop -StateFile $StateFile | Out-Null
}

Export-ModuleMember -Function Invoke-BenchRound, Get-Median, Start-BenchSandbox, Stop-BenchSandbox
