# Reset-PuoApiKey killed with SIGKILL at random moments, 50 times: the .env file must always be the complete old file or the
# complete new one, and a backup, when there is one, the complete old file. Each run is a child pwsh that has imported the
# module and rotated a small file once (so the code is compiled), then waits for "go" on stdin and rotates a 4 MB .env
# (comment filler around the keys, so the copy, the write and their fsyncs take long enough to be hit).
# Kill points: even runs at a uniformly random delay over the measured duration of a whole rotation; odd runs are triggered
# by the temp file of the rewrite appearing (the backup is done) and killed at a random delay over the measured duration of
# that write. Where each kill landed is read from what the dead child left: its temp file, its backup, the new content.

BeforeAll {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule
    $script:dir = (New-Item -ItemType Directory -Path (Join-Path ([IO.Path]::GetTempPath()) "puo-kill-$(Get-Random)")).FullName
    $script:target = Join-Path $dir '.env'
    $filler = '# ' + ('x' * 96) + "`r`n"
    $head = "# PUO Memo (kill test)`r`nexport API_KEY=$('a' * 64) # rotated`r`nJWT_SECRET=`"$('b' * 64)`"`r`n"
    [IO.File]::WriteAllText($target, $head + ($filler * 40000) + "LOG_LEVEL=info`r`n")
    $script:childScript = Join-Path $dir 'child.ps1'
    Set-Content -LiteralPath $childScript -Value @'
param($Module, $Warm, $Target)
$ErrorActionPreference = 'Stop'
Import-Module $Module
$null = Reset-PuoApiKey -EnvFile $Warm -Confirm:$false
Get-ChildItem -LiteralPath (Split-Path $Warm) -Filter "$(Split-Path $Warm -Leaf).bak-*" -Force | Remove-Item
[Console]::Out.WriteLine('ready')
$null = [Console]::In.ReadLine()
$null = Reset-PuoApiKey -EnvFile $Target -Confirm:$false
[Console]::Out.WriteLine('done')
'@

    function Start-Child {
        # Each child warms up on a file of its own: two children warming at once must not share one.
        $warmFile = Join-Path $dir "warm-$(Get-Random).env"
        [IO.File]::WriteAllText($warmFile, "API_KEY=$('c' * 64)`n")
        $pwsh = Join-Path $PSHOME 'pwsh'
        $info = if (Test-Path $pwsh) { [Diagnostics.ProcessStartInfo]::new($pwsh) } else {
            $i = [Diagnostics.ProcessStartInfo]::new('dotnet'); $i.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')); $i }
        foreach ($a in '-NoProfile', '-NonInteractive', '-File', $childScript, (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1'), $warmFile, $target) {
            $info.ArgumentList.Add($a)
        }
        # A pwsh killed with SIGKILL leaves its diagnostics sockets and host pipe in its TMPDIR; this one goes with $dir.
        $info.Environment['TMPDIR'] = (New-Item -ItemType Directory -Path (Join-Path $dir "tmp-$(Get-Random)")).FullName
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $process = [Diagnostics.Process]::Start($info)
        # Read stderr asynchronously so a chatty child can never block on a full pipe.
        $null = $process.StandardError.ReadToEndAsync()
        [pscustomobject]@{ Process = $process; Line = $process.StandardOutput.ReadLineAsync() }
    }

    function Wait-Line($Child, [string] $Expected, [int] $TimeoutSec = 120) {
        if (-not $Child.Line.Wait([timespan]::FromSeconds($TimeoutSec))) { throw "The child did not say '$Expected' within $TimeoutSec s." }
        $line = $Child.Line.Result
        if ($line -ne $Expected) { throw "The child said '$line' instead of '$Expected' (exit code $(if ($Child.Process.HasExited) { $Child.Process.ExitCode }))." }
        $Child.Line = $Child.Process.StandardOutput.ReadLineAsync()
    }

    function Get-Leftovers {
        [pscustomobject]@{
            Temps   = [IO.Directory]::GetFiles($dir, '..env.puo-tmp-*')
            Backups = [IO.Directory]::GetFiles($dir, '.env.bak-*')
        }
    }

    function Test-InWrite {
        # The rewrite's temp file is there and the backup is done: the child is writing the new file.
        [IO.Directory]::GetFiles($dir, '.env.bak-*').Length -gt 0 -and [IO.Directory]::GetFiles($dir, '..env.puo-tmp-*').Length -gt 0
    }

    function Get-Hash([byte[]] $Bytes) { [Convert]::ToHexString([Security.Cryptography.SHA256]::HashData($Bytes)) }

    function Wait-Until([Diagnostics.Stopwatch] $Watch, [double] $Milliseconds) {
        while (($left = $Milliseconds - $Watch.Elapsed.TotalMilliseconds) -gt 0) { [Threading.Thread]::Sleep($(if ($left -gt 2) { 1 } else { 0 })) }
    }

    function Test-Rotated([byte[]] $Old, [byte[]] $New) {
        # The new file is the old one with API_KEY's 64 characters replaced by 64 letters and digits, and nothing else.
        if ($New.Length -ne $Old.Length) { return $false }
        $start = [Text.Encoding]::Latin1.GetString($Old).IndexOf('export API_KEY=') + 'export API_KEY='.Length
        $expected = $Old.Clone()
        [Array]::Copy($New, $start, $expected, $start, 64)
        (Get-Hash $expected) -eq (Get-Hash $New) -and [Text.Encoding]::Latin1.GetString($New, $start, 64) -cmatch '^[A-Za-z0-9]{64}$'
    }

    function Invoke-Rotation($Child, [scriptblock] $KillWhen) {
        # Sends "go", then kills the child where $KillWhen says (or lets it finish when it returns $null); returns timings.
        $watch = [Diagnostics.Stopwatch]::StartNew()
        $Child.Process.StandardInput.WriteLine('go')
        $Child.Process.StandardInput.Flush()
        $plan = & $KillWhen $watch
        if ($null -ne $plan) {
            $Child.Process.Kill()   # SIGKILL
            $Child.Process.WaitForExit()
            return $plan
        }
        Wait-Line $Child 'done'
        $elapsed = $watch.Elapsed   # to the child's "done", not to its exit, which takes long and is no part of the rotation
        $Child.Process.WaitForExit()
        $elapsed
    }
}

AfterAll {
    Remove-Item -LiteralPath $dir -Recurse -Force -ErrorAction SilentlyContinue
}

Describe 'Reset-PuoApiKey killed with SIGKILL at random points' {
    It 'leaves the complete old or the complete new .env file every time (50 runs)' {
        $random = [Random]::new()
        $next = Start-Child
        $children = [Collections.Generic.List[object]]::new()
        try {
            # Calibrate: three uncut rotations, timing the whole run (to "done") and the write (from its temp file appearing,
            # the backup done, to the rename).
            $whole = @(); $write = @()
            for ($i = 0; $i -lt 3; $i++) {
                $child = $next; $children.Add($child)
                Wait-Line $child 'ready'
                $next = Start-Child
                $seen = @{ Write = $null; Renamed = $null }
                $elapsed = Invoke-Rotation $child {
                    param($watch)
                    while (-not $child.Process.HasExited -and -not $child.Line.IsCompleted -and $null -eq $seen.Renamed) {
                        $inWrite = Test-InWrite
                        if ($null -eq $seen.Write -and $inWrite) { $seen.Write = $watch.Elapsed }
                        elseif ($null -ne $seen.Write -and -not $inWrite) { $seen.Renamed = $watch.Elapsed }
                    }
                    $null
                }
                $whole += $elapsed.TotalMilliseconds
                if ($seen.Write -and $seen.Renamed) { $write += ($seen.Renamed - $seen.Write).TotalMilliseconds }
                (Get-Leftovers).Backups | ForEach-Object { [IO.File]::Delete($_) }
            }
            $wholeMs = ($whole | Sort-Object)[1]
            $writeMs = if ($write) { ($write | Sort-Object)[[int][math]::Floor(($write.Count - 1) / 2)] } else { $wholeMs / 2 }

            $landed = @{ 'before the backup' = 0; 'during the backup' = 0; 'between backup and write' = 0; 'during the write' = 0; 'after the rename' = 0 }
            $partialEnv = 0; $partialBackup = 0
            $old = [IO.File]::ReadAllBytes($target)
            # 50 runs, and more (up to 150) until at least 5 kills landed inside the write: on a loaded machine fewer may.
            for ($run = 1; $run -le 50 -or ($landed['during the write'] -lt 5 -and $run -le 150); $run++) {
                $child = $next; $children.Add($child)
                Wait-Line $child 'ready'
                $next = Start-Child
                if ($run % 2 -eq 0) {
                    $delay = $random.NextDouble() * $wholeMs
                    $null = Invoke-Rotation $child {
                        param($watch)
                        Wait-Until $watch $delay
                        $delay
                    }
                }
                else {
                    $delay = $random.NextDouble() * $writeMs
                    $null = Invoke-Rotation $child {
                        param($watch)
                        while (-not $child.Process.HasExited -and -not (Test-InWrite)) { }
                        Wait-Until $watch ($watch.Elapsed.TotalMilliseconds + $delay)
                        $delay
                    }
                }
                $now = [IO.File]::ReadAllBytes($target)
                $left = Get-Leftovers
                $isOld = (Get-Hash $now) -eq (Get-Hash $old)
                $isNew = -not $isOld -and (Test-Rotated $old $now)
                if (-not ($isOld -or $isNew)) { $partialEnv++ }
                foreach ($backup in $left.Backups) {
                    if ((Get-Hash ([IO.File]::ReadAllBytes($backup))) -ne (Get-Hash $old)) { $partialBackup++ }
                    $mode = [IO.File]::GetUnixFileMode($backup)
                    $mode | Should -Be ([IO.UnixFileMode]'UserRead, UserWrite') -Because 'a backup holds the old keys'
                }
                $where = if ($isNew) { 'after the rename' }
                elseif ($left.Temps.Length -and $left.Backups.Length) { 'during the write' }
                elseif ($left.Temps.Length) { 'during the backup' }
                elseif ($left.Backups.Length) { 'between backup and write' }
                else { 'before the backup' }
                $landed[$where]++
                # Keep the folder small: the old backups have been checked; a killed writer's temp is the next run's to remove.
                $left.Backups | ForEach-Object { [IO.File]::Delete($_) }
                $old = $now
            }
            Write-Host ("Kill test: $($run - 1) runs of Reset-PuoApiKey on a {0:N1} MB .env, killed with SIGKILL; calibrated run {1:N0} ms, write {2:N0} ms." -f
                ($old.Length / 1MB), $wholeMs, $writeMs)
            Write-Host ('Kill test: landed ' + (($landed.GetEnumerator() | Sort-Object Name | ForEach-Object { "$($_.Name): $($_.Value)" }) -join ', ') +
                "; partial .env files: $partialEnv; partial backups: $partialBackup.")

            $partialEnv | Should -Be 0
            $partialBackup | Should -Be 0
            # The test only proves something if kills hit the write itself.
            $landed['during the write'] | Should -BeGreaterOrEqual 5 -Because 'kills must land inside the rewrite for this test to mean anything'
            # The next writer removes the temp file a killed one left behind.
            $final = $next; $next = $null
            $children.Add($final)
            Wait-Line $final 'ready'
            $null = Invoke-Rotation $final { $null }
            (Get-Leftovers).Temps | Should -BeNullOrEmpty
        }
        finally {
            foreach ($c in @($children) + @($next)) {
                if ($c -and -not $c.Process.HasExited) { $c.Process.Kill(); $c.Process.WaitForExit() }
                if ($c) { $c.Process.Dispose() }
            }
        }
    }
}
