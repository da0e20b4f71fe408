using System.Management.Automation;
using PuoOps.Engine.Redis;

namespace PuoOps.Commands.Redis;

/// <summary>
/// With -Pattern: SCAN + UNLINK of the matching keys in batches (the runbook's "--scan --pattern | xargs DEL");
/// without: FLUSHDB of the environment's database (the runbook's "redis-cli FLUSHDB"). Both lose data: High impact,
/// and deleting every key (FLUSHDB, or a pattern matching everything) also needs -Force, except for a -WhatIf preview.
/// </summary>
[Cmdlet(VerbsCommon.Clear, "PuoCache", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(CacheClearResult))]
public sealed class ClearPuoCacheCommand : PuoCmdlet
{
    [Parameter(Position = 0)]
    [AllowEmptyString]
    public string? Pattern { get; set; }

    /// <summary>Delete at most this many keys, then stop and say so.</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long? MaxKeys { get; set; }

    /// <summary>Keys examined by each server-side SCAN + UNLINK step.</summary>
    [Parameter]
    [ValidateRange(10, 100000)]
    public int BatchSize { get; set; } = CacheClearService.DefaultBatchSize;

    /// <summary>Required, besides the confirmation, to delete every key: FLUSHDB (no -Pattern) or a pattern matching everything ('*' or '').</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void Begin()
    {
        if (Pattern is null && (MaxKeys is not null || MyInvocation.BoundParameters.ContainsKey(nameof(BatchSize))))
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Redis.PatternRequired",
                "-MaxKeys and -BatchSize apply to a pattern delete; add -Pattern (without it, Clear-PuoCache flushes the whole database).", null));
        if (Force || IsWhatIf)
            return;
        if (Pattern is null)
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Redis.FlushNeedsForce",
                "Without -Pattern, Clear-PuoCache runs FLUSHDB and deletes every key of the environment's database. Add -Force to do that (you are still asked to confirm), " +
                "give -Pattern to delete only matching keys, or add -WhatIf to count the keys first.", null));
        else if (CacheClearService.MatchesEverything(Pattern))
            ThrowTerminatingError(ErrorRecords.InvalidArgument("PuoOps.Redis.PatternMatchesEverything",
                $"The pattern '{Pattern}' matches every key. Add -Force to delete them all key by key (you are still asked to confirm), or -Force without -Pattern to FLUSHDB the database.",
                Pattern));
    }

    protected override void Process()
    {
        var context = Context;
        var redis = context.Environment.Redis ?? context.Environment.Name;
        if (Pattern is null)
        {
            var count = Await(CacheClearService.CountAllAsync(context));
            if (ShouldProcess($"Delete all {count:N0} keys of Redis {redis} (FLUSHDB).", $"Delete all {count:N0} keys of Redis {redis}?", "FLUSHDB", out var reason))
                WriteObject(Await(CacheClearService.FlushAsync(context, countOnly: false)));
            else if (reason == ShouldProcessReason.WhatIf)
                WriteObject(Await(CacheClearService.FlushAsync(context, countOnly: true)));
            return;
        }
        var limit = MaxKeys is null ? "" : $" (at most {MaxKeys:N0})";
        if (ShouldProcess($"Delete the keys matching '{Pattern}' in Redis {redis}{limit} (SCAN + UNLINK).",
                $"Delete the keys matching '{Pattern}' in Redis {redis}{limit}?", "Clear-PuoCache", out var why))
            WriteObject(Await(CacheClearService.ClearPatternAsync(context, Pattern, MaxKeys, BatchSize, countOnly: false)));
        else if (why == ShouldProcessReason.WhatIf)
            // -WhatIf still says how many keys would go: count them server-side, delete none.
            WriteObject(Await(CacheClearService.ClearPatternAsync(context, Pattern, MaxKeys, BatchSize, countOnly: true)));
    }
}
