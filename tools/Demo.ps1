#Requires -Version 7.4
<#
.SYNOPSIS
    The main job: a short runbook session against the sandbox stack, with the built module.
.DESCRIPTION
    build.ps1 -Task Demo builds the module, starts the sandbox (tests/Sandbox), runs this script and
    stops the sandbox. Each step names the runbook section it replaces and prints the objects it gets.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $StateFile
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Step([string] $Title) { Write-Host "`n=== $Title" -ForegroundColor Cyan }

if ([Console]::IsOutputRedirected) { $PSStyle.OutputRendering = 'PlainText' }
$state = Get-Content $StateFile -Raw | ConvertFrom-Json
Import-Module (Join-Path $ModulePath 'PuoOps.psd1')

Step 'Connect to the stack (credentials come in as a parameter; the password is never shown)'
$pg = $state.Postgres
$credential = [pscredential]::new($pg.User, (ConvertTo-SecureString $pg.Password -AsPlainText -Force))
Connect-PuoEnvironment -Name sandbox -DatabaseUrl "postgres://$($pg.Host):$($pg.Port)/$($pg.Database)" -Credential $credential `
    -RedisConnectionString $state.Redis.ConnectionString -DockerHost $state.Docker.Host `
    -ApiUrl $state.Api.Url -McpUrl $state.Mcp.Url -ComposeProject puo-demo -PassThru | Format-Table | Out-Host

Step 'Database Connection Errors: pg_isready and the connection slots'
Test-PuoPostgres | Format-Table | Out-Host
Get-PuoConnectionStat | Format-Table | Out-Host

Step 'High CPU Usage: a deliberately slow session appears as a slow query'
# A separate psql process, as a reporting job would be; its password goes in its own environment only.
$start = [System.Diagnostics.ProcessStartInfo]::new((Join-Path $pg.BinDir 'psql'))
'-h', $pg.Host, '-p', $pg.Port, '-U', $pg.User, '-d', $pg.Database, '-qAt', '-c', 'SELECT pg_sleep(120) /* demo: a heavy report */' |
    ForEach-Object { $start.ArgumentList.Add([string]$_) }
$start.Environment['PGPASSWORD'] = $pg.Password
$start.RedirectStandardError = $true
$start.RedirectStandardOutput = $true
$slow = [System.Diagnostics.Process]::Start($start)
Start-Sleep -Seconds 3
Get-PuoSlowQuery -MinimumDuration 00:00:02 | Format-Table | Out-Host

Step 'Get-PuoSlowQuery -MinimumDuration 00:00:02 | Stop-PuoQuery -WhatIf   (nothing is changed)'
Get-PuoSlowQuery -MinimumDuration 00:00:02 | Stop-PuoQuery -WhatIf

Step 'Get-PuoSlowQuery -MinimumDuration 00:00:02 | Stop-PuoQuery -Confirm:$false   (cancelled for real)'
Get-PuoSlowQuery -MinimumDuration 00:00:02 | Stop-PuoQuery -Confirm:$false | Format-Table | Out-Host
if (-not $slow.WaitForExit(10000)) { $slow.Kill(); throw 'The slow session did not end after its query was cancelled.' }
Write-Host "The slow psql session ended with exit code $($slow.ExitCode): $($slow.StandardError.ReadToEnd().Trim())"
Get-PuoSlowQuery -MinimumDuration 00:00:02 | Measure-Object | Select-Object @{ n = 'SlowQueriesLeft'; e = { $_.Count } } | Format-Table | Out-Host

Step 'Done'
Disconnect-PuoEnvironment -Name sandbox -Confirm:$false
