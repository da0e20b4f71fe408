# The one place the version is written: build.ps1 reads ModuleVersion for the assembly version, the folder, the zip and the .nupkg.
@{
    RootModule           = 'PuoOps.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6f4c1d2e-8a3b-4c5d-9e7f-1a2b3c4d5e6f'
    Author               = 'PuoOps'
    CompanyName          = 'PuoOps'
    Copyright            = '(c) 2026 PuoOps. MIT License.'
    Description          = 'Operate the PUO Memo MCP stack (PostgreSQL, Redis, Docker, HTTP services, nginx) from PowerShell: the operational runbook as cmdlets that return objects and pipe into each other.'
    PowerShellVersion    = '7.4'
    CompatiblePSEditions = @('Core')
    FormatsToProcess     = @('PuoOps.Format.ps1xml')

    # Listed explicitly (never '*'): command discovery and auto-loading read this without loading the DLL.
    # A test checks it against the cmdlets compiled into PuoOps.dll. Keep each area's block in runbook order.
    CmdletsToExport      = @(
        # Environment
        'Connect-PuoEnvironment'
        'Get-PuoEnvironment'
        'Disconnect-PuoEnvironment'

        # Postgres
        'Test-PuoPostgres'
        'Get-PuoSlowQuery'
        'Stop-PuoQuery'
        'Get-PuoConnectionStat'

        # Postgres maintenance
        'Get-PuoQueryPlan'
        'Invoke-PuoAnalyze'
        'Invoke-PuoVacuum'
        'Get-PuoMaintenanceStatus'
        'Get-PuoTableSize'
        'Get-PuoIndexUsage'
        'Get-PuoIndexBloat'
        'Invoke-PuoReindex'
        'Get-PuoBlockingQuery'
        'Invoke-PuoPrewarm'

        # Redis
        'Test-PuoRedis'
        'Get-PuoRedisInfo'
        'Get-PuoRedisConfig'
        'Get-PuoCacheKey'
        'Get-PuoBigKey'
        'Clear-PuoCache'
        'Get-PuoRedisSlowLog'

        # Docker
        'Get-PuoContainer'
        'Get-PuoContainerStats'
        'Restart-PuoService'
        'Stop-PuoService'
        'Start-PuoService'
        'Set-PuoServiceScale'
        'Get-PuoServiceLog'
        'Get-PuoImage'

        # Health and monitoring
        'Test-PuoHealth'
        'Get-PuoMetric'
        'Measure-PuoLatency'
        'Get-PuoProcess'
        'Invoke-PuoDiagnostic'

        # Logs
        'Search-PuoLog'

        # Security
        'Find-PuoAuthFailure'

        # Backup
        'Backup-PuoDatabase'
        'Get-PuoBackup'
        'Test-PuoBackup'
        'Restore-PuoBackup'
        'Test-PuoDiskSpace'
        'Get-PuoMigrationVersion'
        'Invoke-PuoMigration'

        # Security incidents
        'Block-PuoIpAddress'
        'Get-PuoBlockedIpAddress'
        'Unblock-PuoIpAddress'
        'Get-PuoAuditLog'
        'Save-PuoIncidentEvidence'
        'Get-PuoAffectedUser'

        # Secrets
        'Test-PuoSecretEnvironment'
        'Reset-PuoApiKey'
        'Update-PuoClientConfig'

        # Deployment (blue-green)
        'Get-PuoTrafficState'
        'Publish-PuoDeployment'
        'Switch-PuoTraffic'
        'Get-PuoDeploymentHistory'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()

    PrivateData          = @{
        PSData = @{
            Tags         = @('PostgreSQL', 'Redis', 'Docker', 'nginx', 'Operations', 'Runbook', 'AzureAutomation', 'PSEdition_Core', 'Linux', 'Windows', 'MacOS')
            # Also the base of each cmdlet's online help (docs/cmdlets/<Cmdlet>.md), which tools/New-PuoHelp.ps1 writes into the MAML.
            ProjectUri   = 'https://github.com/puo-memo/PuoOps'
            LicenseUri   = 'https://github.com/puo-memo/PuoOps/blob/main/LICENSE'
            ReleaseNotes = 'First release: environments, PostgreSQL diagnosis and maintenance, Redis, Docker and Swarm services, HTTP health and latency, backup, restore and migration; read-only environments (Connect-PuoEnvironment -ReadOnly) and unattended runs that fail instead of prompting. Packaged for Azure Automation (PuoOps.zip) and PowerShell repositories (.nupkg).'
        }
    }
}
