<#
.SYNOPSIS
    Run by DependencyIsolation.Tests.ps1 in a fresh pwsh: uses other versions of PuoOps's packages and PuoOps in
    one session, in the -Order given, and prints as JSON what each side did and which assemblies each context holds.
.DESCRIPTION
    The other versions are the NuGet packages the test project downloads (Npgsql 9, StackExchange.Redis 3 with
    what it needs on .NET 10), loaded with Add-Type -Path as another module would. System.IO.Pipelines is part of
    .NET itself since .NET 9, so on pwsh 7.6 the session's other version is the runtime's own (the runtime refuses
    an Add-Type of another file of that name); it is used through StackExchange.Redis 3 and a Pipe of the session.
#>
param(
    [Parameter(Mandatory)] [ValidateSet('OthersFirst', 'PuoOpsFirst')] [string] $Order,
    [Parameter(Mandatory)] [string] $Packages
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$state = Get-Content $env:PUO_SANDBOX_STATE -Raw | ConvertFrom-Json

function Import-OtherVersion {
    # Dependencies first, as the runtime resolves them by name from what is loaded.
    foreach ($path in 'microsoft.extensions.dependencyinjection.abstractions/10.0.13/lib/net10.0/Microsoft.Extensions.DependencyInjection.Abstractions.dll',
        'microsoft.extensions.logging.abstractions/10.0.13/lib/net10.0/Microsoft.Extensions.Logging.Abstractions.dll',
        'system.io.hashing/10.0.13/lib/net10.0/System.IO.Hashing.dll',
        'respite/3.4.35/lib/net10.0/RESPite.dll',
        'stackexchange.redis/3.4.35/lib/net10.0/StackExchange.Redis.dll',
        'npgsql/9.0.4/lib/net8.0/Npgsql.dll') {
        Add-Type -Path (Join-Path $Packages $path)
    }
}

function Invoke-OtherVersion {
    # Npgsql 9: a query; StackExchange.Redis 3: a key written and read back; System.IO.Pipelines: bytes through a Pipe.
    $connection = [Npgsql.NpgsqlConnection]::new($state.Postgres.ConnectionString)
    try {
        $connection.Open()
        $command = $connection.CreateCommand()
        $command.CommandText = 'SELECT count(*) FROM memories'
        $rows = $command.ExecuteScalar()
    }
    finally { $connection.Dispose() }
    $redis = [StackExchange.Redis.ConnectionMultiplexer]::Connect($state.Redis.ConnectionString)
    try {
        $key = "isolation:$PID"
        $null = $redis.GetDatabase().StringSet($key, 'other copy', [TimeSpan]::FromMinutes(1))
        $read = [string]$redis.GetDatabase().StringGet($key)
        $null = $redis.GetDatabase().KeyDelete($key)
    }
    finally { $redis.Dispose() }
    $pipe = [System.IO.Pipelines.Pipe]::new()
    $null = $pipe.Writer.WriteAsync([byte[]](1, 2, 3)).AsTask().GetAwaiter().GetResult()
    $pipe.Writer.Complete()
    $buffer = $pipe.Reader.ReadAsync().AsTask().GetAwaiter().GetResult().Buffer
    [ordered]@{ MemoryRows = $rows; RedisValue = $read; PipeBytes = $buffer.Length }
}

function Invoke-PuoOps {
    # One cmdlet or more of each family: Environment, Postgres, Redis, Docker, Backup.
    Import-Module (Join-Path $env:PUO_MODULE_PATH 'PuoOps.psd1')
    $null = Connect-PuoEnvironment -Name isolation -PostgresConnectionString $state.Postgres.ConnectionString `
        -RedisConnectionString $state.Redis.ConnectionString -DockerHost $state.Docker.Host
    [ordered]@{
        Environment = (Get-PuoEnvironment -Default).Name
        Postgres    = "$((Test-PuoPostgres).Status)"
        TableSize   = (Get-PuoTableSize -Table memories).Table
        Redis       = "$((Test-PuoRedis).Status)"
        CacheKeys   = @(Get-PuoCacheKey -Pattern 'puo:*' -First 3).Count
        Containers  = if ($state.Docker.Available) { @(Get-PuoContainer -Project $state.Docker.ComposeProject).Count } else { $null }
        DiskSpace   = "$((Test-PuoDiskSpace -Path ([IO.Path]::GetTempPath())).Status)"
    }
}

function Get-LoadedAssembly([System.Runtime.Loader.AssemblyLoadContext] $Context) {
    @($Context.Assemblies | ForEach-Object { [ordered]@{ Name = $_.GetName().Name; Version = "$($_.GetName().Version)"; Location = $_.Location } })
}

$result = [ordered]@{}
if ($Order -eq 'OthersFirst') {
    Import-OtherVersion
    $result.OthersBefore = Invoke-OtherVersion
    $result.PuoOps = Invoke-PuoOps
    $result.OthersAfter = Invoke-OtherVersion
}
else {
    $result.PuoOps = Invoke-PuoOps
    Import-OtherVersion
    $result.OthersAfter = Invoke-OtherVersion
    $result.PuoOpsAgain = Invoke-PuoOps
}
$engine = [System.Runtime.Loader.AssemblyLoadContext]::All | Where-Object Name -EQ 'PuoOps.Engine'
$result.Engine = Get-LoadedAssembly $engine
$result.Default = Get-LoadedAssembly ([System.Runtime.Loader.AssemblyLoadContext]::Default)
$result | ConvertTo-Json -Depth 5 -Compress
