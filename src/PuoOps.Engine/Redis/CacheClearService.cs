using System.Diagnostics;
using StackExchange.Redis;

namespace PuoOps.Engine.Redis;

/// <summary>
/// Clear-PuoCache: the runbook's "redis-cli --scan --pattern 'puo:*' | xargs redis-cli DEL" done fast and
/// safely, and its "redis-cli FLUSHDB".
/// </summary>
public static class CacheClearService
{
    public const int DefaultBatchSize = 5000;

    // SCAN steps and the UNLINK of what they matched, run inside the server: no key crosses the network, and
    // each call examines about ARGV[3] keys (a few milliseconds at 5000), so other clients are served between
    // calls. Small inner steps (COUNT 500) keep the Lua tables small, which measured cheaper per key than one
    // big step. ARGV: cursor, pattern, keys to examine, most keys to act on, 1 = delete / 0 = count.
    // replicate_commands lets Redis 3.2-4 replicate the effects of a script that calls SCAN before writing.
    private const string StepScript = """
        if redis.replicate_commands then redis.replicate_commands() end
        local cursor, examined, found, deleted = ARGV[1], 0, 0, 0
        local budget, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
        local step = math.min(500, budget)
        repeat
          local reply = redis.call('SCAN', cursor, 'MATCH', ARGV[2], 'COUNT', step)
          cursor = reply[1]
          local n = math.min(#reply[2], limit - found)
          if n > 0 and ARGV[5] == '1' then
            deleted = deleted + redis.call('UNLINK', unpack(reply[2], 1, n))
          end
          found = found + n
          examined = examined + step
        until cursor == '0' or examined >= budget or found >= limit
        return {cursor, found, deleted}
        """;

    /// <summary>True for a pattern that matches every key ("", "*", "**"): Clear-PuoCache asks for -Force then.</summary>
    public static bool MatchesEverything(string? pattern) => string.IsNullOrWhiteSpace(pattern) || pattern.Trim().All(c => c == '*');

    /// <summary>
    /// Deletes (or, with <paramref name="countOnly"/>, counts) the keys matching <paramref name="pattern"/> on every
    /// primary, at most <paramref name="maxKeys"/>, checking Ctrl+C between batches and reporting progress.
    /// </summary>
    public static async Task<CacheClearResult> ClearPatternAsync(OperationContext ctx, string pattern, long? maxKeys, int batchSize, bool countOnly)
    {
        if (batchSize is < 10 or > 100_000)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Redis.BatchSize", $"The batch size must be between 10 and 100000 (got {batchSize}).", batchSize);
        if (maxKeys is <= 0)
            throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Redis.MaxKeys", $"-MaxKeys must be above 0 (got {maxKeys}).", maxKeys);
        if (MatchesEverything(pattern))
            pattern = "*";
        var watch = Stopwatch.StartNew();
        var primaries = await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false);
        var run = new Run(ctx, pattern, maxKeys ?? long.MaxValue, batchSize, countOnly);
        foreach (var primary in primaries)
            run.Total += await RedisConnections.RunAsync(ctx, "DBSIZE", () => primary.Server.DatabaseSizeAsync(primary.DatabaseNumber)).ConfigureAwait(false);
        foreach (var primary in primaries)
        {
            if (run.CapReached)
            {
                run.StopEarly(); // the cap was reached exactly on the previous primary; this one was not looked at
                break;
            }
            if (primary.IsCluster)
                await run.ClearClientSideAsync(primary).ConfigureAwait(false);
            else
                await run.ClearServerAsync(primary).ConfigureAwait(false);
            if (run.StoppedEarly)
                break;
        }
        ctx.Report(new ProgressInfo(run.Activity, "Done", 100, Completed: true));
        var target = RedisConnections.Endpoint(ctx).DisplayName;
        return new CacheClearResult
        {
            Environment = ctx.Environment.Name, Target = target, Pattern = pattern, WhatIf = countOnly,
            Scanned = run.Matched, Deleted = run.Deleted, Duration = watch.Elapsed, StoppedEarly = run.StoppedEarly,
            Message = (countOnly ? $"{run.Matched:N0} keys match '{pattern}' on {target}; none were deleted (-WhatIf)."
                                 : $"Deleted {run.Deleted:N0} keys matching '{pattern}' on {target}.")
                      + (run.StoppedEarly ? $" Stopped at -MaxKeys {maxKeys:N0}: more matching keys may remain." : ""),
        };
    }

    /// <summary>The number of keys in the environment's database on every primary (DBSIZE), to describe a FLUSHDB before it runs.</summary>
    public static async Task<long> CountAllAsync(OperationContext ctx)
    {
        var total = 0L;
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
            total += await RedisConnections.RunAsync(ctx, "DBSIZE", () => primary.Server.DatabaseSizeAsync(primary.DatabaseNumber)).ConfigureAwait(false);
        return total;
    }

    /// <summary>
    /// FLUSHDB of the environment's database on every primary (with <paramref name="countOnly"/>, just DBSIZE).
    /// ASYNC: the server drops the keyspace at once and frees the memory in a background thread instead of
    /// blocking every client while it does.
    /// </summary>
    public static async Task<CacheClearResult> FlushAsync(OperationContext ctx, bool countOnly)
    {
        var watch = Stopwatch.StartNew();
        var found = 0L;
        foreach (var primary in await RedisConnections.PrimariesAsync(ctx).ConfigureAwait(false))
        {
            found += await RedisConnections.RunAsync(ctx, "DBSIZE", () => primary.Server.DatabaseSizeAsync(primary.DatabaseNumber)).ConfigureAwait(false);
            if (countOnly)
                continue;
            await RedisConnections.RequireCommandAsync(ctx, primary.Server, "FLUSHDB").ConfigureAwait(false);
            ctx.Log($"FLUSHDB ASYNC of database {primary.DatabaseNumber} on {primary.Name}.");
            await RedisConnections.RunAsync(ctx, "FLUSHDB", () => primary.ExecuteAsync("FLUSHDB", "ASYNC")).ConfigureAwait(false);
        }
        var endpoint = RedisConnections.Endpoint(ctx);
        return new CacheClearResult
        {
            Environment = ctx.Environment.Name, Target = endpoint.DisplayName, Pattern = null, WhatIf = countOnly,
            Scanned = found, Deleted = countOnly ? 0 : found, Duration = watch.Elapsed,
            Message = countOnly ? $"FLUSHDB would delete all {found:N0} keys of database {endpoint.Database} on {endpoint.DisplayName} (-WhatIf)."
                                : $"Flushed database {endpoint.Database} on {endpoint.DisplayName} ({found:N0} keys).",
        };
    }

    /// <summary>The counters and limits of one Clear-PuoCache run across the primaries.</summary>
    private sealed class Run(OperationContext ctx, string pattern, long maxKeys, int batchSize, bool countOnly)
    {
        private readonly Stopwatch _sinceReport = Stopwatch.StartNew();
        private long _examined;
        private string _deleteCommand = "UNLINK";
        private bool _scriptStepDone;
        private bool _deleteDone;

        public string Activity { get; } = $"Clear-PuoCache '{pattern}' on {RedisConnections.Endpoint(ctx).DisplayName}";
        public long Total { get; set; }
        public long Matched { get; private set; }
        public long Deleted { get; private set; }
        public bool StoppedEarly { get; private set; }

        private long Remaining => maxKeys - Matched;

        public bool CapReached => Remaining <= 0;

        public void StopEarly() => StoppedEarly = true;

        /// <summary>
        /// A single server: each SCAN step and its UNLINK run as one short server-side script. Where the server has no
        /// EVAL (scripting disabled or renamed away: its command table says so), or the ACL user may run only what the
        /// runbook's own pipeline needs (SCAN and DEL or UNLINK: NOPERM), the client-side batches do the same work. Only a
        /// refusal of the first step means that: a later one (an ACL key pattern refusing a key the script met) is an error,
        /// since starting over client-side would count the keys done so far twice.
        /// </summary>
        public async Task ClearServerAsync(RedisPrimary primary)
        {
            if (await RedisConnections.HasCommandAsync(ctx, primary.Server, "EVAL").ConfigureAwait(false) == false)
            {
                ctx.Log($"EVAL is not available on {primary.Name} (COMMAND INFO does not know it: scripting is disabled or renamed); {ClientSideNote}");
                await ClearClientSideAsync(primary).ConfigureAwait(false);
                return;
            }
            _scriptStepDone = false;
            try
            {
                await ClearWithScriptAsync(primary).ConfigureAwait(false);
            }
            catch (Exception ex) when (!_scriptStepDone && RedisConnections.IsRefused(ex, ctx, out var refusal))
            {
                ctx.Log($"EVAL is not allowed on {primary.Name} ({refusal}); {ClientSideNote}");
                await ClearClientSideAsync(primary).ConfigureAwait(false);
            }
        }

        private string ClientSideNote => $"deleting in client-side batches instead: SCAN pages come to this client and go back as {_deleteCommand}.";

        private async Task ClearWithScriptAsync(RedisPrimary primary)
        {
            var cursor = "0";
            do
            {
                ctx.Cancellation.ThrowIfCancellationRequested();
                var reply = (RedisResult[])(await RedisConnections.RunDeleteStepAsync(ctx, "SCAN + UNLINK step", () => primary.ExecuteAsync("EVAL",
                    StepScript, 0, cursor, pattern, batchSize, Remaining, countOnly ? 0 : 1)).ConfigureAwait(false))!;
                _scriptStepDone = true;
                cursor = (string)reply[0]!;
                Count((long)reply[1], (long)reply[2], batchSize);
                if (Remaining <= 0 && cursor != "0")
                    StoppedEarly = true;
            }
            while (cursor != "0" && !StoppedEarly);
        }

        /// <summary>
        /// SCAN pages come to the client and go back as one pipelined UNLINK per hash slot, which the multiplexer routes
        /// to the slot's owner: how a cluster node is cleared (a script may not touch keys of several slots), and a
        /// server where EVAL is not allowed.
        /// </summary>
        public async Task ClearClientSideAsync(RedisPrimary primary)
        {
            if (_deleteCommand == "UNLINK" && await RedisConnections.HasCommandAsync(ctx, primary.Server, "UNLINK").ConfigureAwait(false) == false)
                UseDel($"UNLINK is not available on {primary.Name} (COMMAND INFO does not know it: renamed, or a server older than 4.0)");
            var batch = new List<RedisKey>(batchSize);
            await foreach (var key in primary.Server.KeysAsync(primary.DatabaseNumber, pattern, batchSize).WithCancellation(ctx.Cancellation))
            {
                batch.Add(key);
                if (batch.Count == batchSize || batch.Count == Remaining)
                {
                    await UnlinkAsync(primary, batch).ConfigureAwait(false);
                    if (Remaining <= 0)
                    {
                        StoppedEarly = true;
                        return;
                    }
                }
            }
            await UnlinkAsync(primary, batch).ConfigureAwait(false);
        }

        private async Task UnlinkAsync(RedisPrimary primary, List<RedisKey> batch)
        {
            ctx.Cancellation.ThrowIfCancellationRequested();
            var deleted = 0L;
            if (!countOnly && batch.Count > 0)
            {
                try
                {
                    deleted = await DeleteAsync(primary, batch).ConfigureAwait(false);
                }
                // Only while no delete has gone through: a user refused UNLINK itself is refused every one, while a refusal after
                // one went through is an ACL key pattern refusing a key, which DEL would be refused too.
                catch (Exception ex) when (_deleteCommand == "UNLINK" && !_deleteDone && RedisConnections.IsRefused(ex, ctx, out var refusal))
                {
                    // UNLINK frees memory in the background; a user allowed only DEL (as the runbook's xargs DEL) still gets the job done.
                    UseDel($"UNLINK is not allowed on {primary.Name} ({refusal})");
                    deleted = await DeleteAsync(primary, batch).ConfigureAwait(false);
                }
            }
            Count(batch.Count, deleted, batch.Count);
            batch.Clear();
        }

        private void UseDel(string why)
        {
            ctx.Log($"{why}; deleting with DEL instead.");
            _deleteCommand = "DEL";
        }

        private async Task<long> DeleteAsync(RedisPrimary primary, List<RedisKey> batch)
        {
            var multiplexer = primary.Database.Multiplexer;
            var deletes = batch.GroupBy(key => multiplexer.HashSlot(key))
                .Select(slot => primary.Database.ExecuteAsync(_deleteCommand, slot.Cast<object>().ToArray()))
                .ToList();
            try
            {
                return (await RedisConnections.RunDeleteStepAsync(ctx, _deleteCommand, () => Task.WhenAll(deletes)).ConfigureAwait(false)).Sum(r => (long)r);
            }
            finally
            {
                // One per hash slot: some may go through while another is refused.
                _deleteDone |= deletes.Any(delete => delete.IsCompletedSuccessfully);
            }
        }

        private void Count(long matched, long deleted, long examined)
        {
            Matched += matched;
            Deleted += deleted;
            _examined += examined;
            if (_sinceReport.ElapsedMilliseconds < 200)
                return;
            _sinceReport.Restart();
            ctx.Report(new ProgressInfo(Activity,
                countOnly ? $"Found {Matched:N0} matching keys" : $"Found {Matched:N0} matching keys, deleted {Deleted:N0}",
                Total > 0 ? (int)Math.Min(99, 100 * _examined / Total) : -1));
        }
    }
}
