#Requires -Version 7.4
<#
.SYNOPSIS
    `pwsh -NoProfile -c 'Import-Module PuoOps'` vs bare `pwsh -NoProfile -c 1`.
.DESCRIPTION
    Issue target: at most 1.10x. Runs both as whole processes, alternating, after a warm-up, and prints
    medians and the median of the pairwise ratios. A third command, importing PowerShell's own
    Microsoft.PowerShell.Management module, shows what Import-Module itself costs on this machine, so
    PuoOps's own share can be told apart. Run after `dotnet pwsh ./build.ps1 -Task Build`.
.EXAMPLE
    dotnet pwsh -NoProfile -File bench/foundation/ImportTime.bench.ps1 -Runs 15
#>
param([int] $Runs = 15)
$ErrorActionPreference = 'Stop'
$root = Resolve-Path "$PSScriptRoot/../.."
Import-Module "$PSScriptRoot/../BenchTools.psm1" -Force
$version = (Import-PowerShellDataFile "$root/PuoOps.psd1").ModuleVersion
$manifest = "$root/out/PuoOps/$version/PuoOps.psd1"
$pwsh = Join-Path $PSHOME 'pwsh.dll'   # the same pwsh for both; `dotnet pwsh` would add tool resolution to both

function Time([string[]] $Arguments) {
    $watch = [Diagnostics.Stopwatch]::StartNew()
    & dotnet $pwsh @Arguments | Out-Null
    if ($LASTEXITCODE) { throw "pwsh $Arguments failed." }
    $watch.Elapsed.TotalMilliseconds
}
$import = @('-NoProfile', '-c', "Import-Module '$manifest'")
$bare = @('-NoProfile', '-c', '1')
$builtIn = @('-NoProfile', '-c', 'Import-Module Microsoft.PowerShell.Management')
$null = Time $import; $null = Time $bare; $null = Time $builtIn   # warm-up: file cache, JIT caches
# Each round runs the three in a random order with a pause before each: run back to back in a fixed order, the
# first of a pair measured up to 20 % faster than the second on this machine, whichever command it was.
$a = @(); $b = @(); $c = @()
foreach ($i in 1..$Runs) {
    $t = Invoke-BenchRound ([ordered]@{
            Import  = { Start-Sleep -Milliseconds 300; Time $import }
            Bare    = { Start-Sleep -Milliseconds 300; Time $bare }
            BuiltIn = { Start-Sleep -Milliseconds 300; Time $builtIn }
        })
    $a += $t.Import; $b += $t.Bare; $c += $t.BuiltIn
}
$ratios = for ($i = 0; $i -lt $Runs; $i++) { $a[$i] / $b[$i] }
$builtInRatios = for ($i = 0; $i -lt $Runs; $i++) { $c[$i] / $b[$i] }
[pscustomobject]@{
    Runs                                  = $Runs
    'Import-Module PuoOps ms (median)'    = [math]::Round((Get-Median $a), 1)
    'pwsh -c 1 ms (median)'               = [math]::Round((Get-Median $b), 1)
    'Ratio PuoOps (median of pairs)'      = [math]::Round((Get-Median $ratios), 3)
    'Ratio built-in Management module'    = [math]::Round((Get-Median $builtInRatios), 3)
    Target                                = '<= 1.10x'
} | Format-List
