# One set of types: every type a PuoOps cmdlet outputs, walked by reflection with the types it contains. Sizes are long
# bytes (never preformatted text), points in time DateTimeOffset (never DateTime), durations TimeSpan, counts long.

BeforeDiscovery {
    Import-Module "$PSScriptRoot/PuoTestHelpers.psm1" -Force
    Import-PuoModule

    function Get-PuoTypeTree([type[]] $Roots) {
        # The output types and every PuoOps type reachable through their properties (arrays, lists and dictionaries included).
        $seen = [System.Collections.Generic.HashSet[type]]::new()
        $queue = [System.Collections.Generic.Queue[type]]::new()
        $Roots | ForEach-Object { $queue.Enqueue($_) }
        while ($queue.Count) {
            $type = $queue.Dequeue()
            if ($type.Namespace -ne 'PuoOps' -or $type.IsEnum -or $type.IsArray -or -not $seen.Add($type)) { continue }
            foreach ($property in $type.GetProperties()) {
                $property.PropertyType, $property.PropertyType.GetElementType() + $property.PropertyType.GenericTypeArguments |
                    Where-Object { $_ } | ForEach-Object { $queue.Enqueue($_) }
            }
        }
        $seen
    }

    $roots = Get-Command -Module PuoOps -CommandType Cmdlet | ForEach-Object OutputType | ForEach-Object Type | Where-Object { $_ }
    $types = @(Get-PuoTypeTree $roots | Sort-Object FullName | ForEach-Object { @{ Name = $_.FullName; Type = $_ } })
}

BeforeAll {
    function Get-Underlying([type] $Type) {
        # Nullable<T> as T, T[] and collections of T as T: the type a value of the property is made of.
        $type = [Nullable]::GetUnderlyingType($Type) ?? $Type
        if ($type.IsArray) { return Get-Underlying $type.GetElementType() }
        if ($type.IsGenericType -and $type.GenericTypeArguments.Count -eq 1 -and $type -ne [string]) { return Get-Underlying $type.GenericTypeArguments[0] }
        if ($type.IsGenericType -and $type.GenericTypeArguments.Count -eq 2) { return Get-Underlying $type.GenericTypeArguments[1] }
        $type
    }
    function Test-Deprecated($Property) {
        # The old spelling kept for one release beside its replacement.
        [bool]($Property.GetCustomAttributes([ObsoleteAttribute], $true))
    }
    # int properties that are identifiers or ordinals, not counts: process ids, a replica number, an exit code, a
    # fill factor percentage, a Redis database index, a plan node's depth, an HTTP status code, a line of a page, a
    # network's prefix length.
    $identifiers = 'Pid', 'Id', 'ParentPid', 'BlockedBy', 'Blocking', 'RootBlocker', 'Chain', 'Number', 'ExitCode', 'FillFactor', 'Database', 'Depth',
        'ActivityId', 'StatusCode', 'LineNumber', 'PrefixLength',
        'NginxMasterPid', 'NginxWorkers', 'Workers', 'PreviousWorkers'   # nginx process ids
}

Describe 'Output types' -ForEach @{ Types = $types.Type } {
    BeforeAll {
        # Every property of every type, as "Type.Property", for the rules below to filter.
        $properties = foreach ($type in $Types) { $type.GetProperties() | ForEach-Object { [pscustomobject]@{ Where = "$($type.Name).$($_.Name)"; Property = $_ } } }
    }

    It 'walks every cmdlet output type and what it holds' {
        $Types.Count | Should -BeGreaterThan 35
        $Types.Name | Should -Contain 'PlanNode'       # reached through QueryPlan.Nodes
        $Types.Name | Should -Contain 'BackupTable'    # reached through DatabaseBackup.Tables
    }

    It 'has no DateTime: points in time are DateTimeOffset' {
        $properties | Where-Object { (Get-Underlying $_.Property.PropertyType) -eq [datetime] } | ForEach-Object Where | Should -BeNullOrEmpty
    }

    It 'has no preformatted size: sizes are long bytes' {
        $properties | Where-Object { $_.Property.Name -match '(^Size|Bytes|Size|MB|GB|KB)$' -and (Get-Underlying $_.Property.PropertyType) -ne [long] } |
            ForEach-Object { "$($_.Where) is $($_.Property.PropertyType)" } | Should -BeNullOrEmpty
    }

    It 'has no duration as a number: durations are TimeSpan' {
        $properties | Where-Object { $_.Property.Name -cmatch '(Ms|Seconds|Milliseconds|Minutes)$' -and -not (Test-Deprecated $_.Property) } |
            Where-Object { (Get-Underlying $_.Property.PropertyType) -ne [timespan] } | ForEach-Object Where | Should -BeNullOrEmpty
    }

    It 'counts with long: an int is an identifier or an ordinal' {
        $properties | Where-Object { (Get-Underlying $_.Property.PropertyType) -eq [int] -and $_.Property.Name -notin $identifiers } |
            ForEach-Object Where | Should -BeNullOrEmpty
    }

    It 'keeps each deprecated spelling beside a replacement of the right type' {
        # The old names stay for one release, computed from the new ones: Size from the bytes, *Ms and SampleSeconds from a TimeSpan.
        $properties | Where-Object { Test-Deprecated $_.Property } | ForEach-Object Where | Sort-Object |
            Should -Be @('ContainerStats.SampleSeconds', 'IndexBloat.Size', 'IndexUsage.Size', 'PlanNode.SelfMs', 'PlanNode.TotalMs',
                'QueryPlan.ExecutionMs', 'QueryPlan.PlanningMs', 'QueryPlan.TotalMs', 'TableSize.Size')
    }
}
