#!/usr/bin/env bash
# Clear-PuoCache -Pattern 'puo:*' against the runbook's own
#   redis-cli --scan --pattern "puo:*" | xargs redis-cli DEL
# and against FLUSHDB of the same data (the floor), in the same run, on 1,000,000 puo:* keys among
# 1,100,000 (the other 100,000 must survive). Re-seeds before every measurement; RUNS rounds (default 3), each
# running the three sides in a random order;
# prints medians and ratios, and the peak memory of the pwsh process (/usr/bin/time -v and PeakWorkingSet64).
# Also times SCAN MATCH 'puo:*' over the same keys deleting nothing: the server CPU that any SCAN-based delete
# pays before it deletes a key, to compare the targets with.
#
#   bench/redis/Measure-ClearPuoCache.sh [state-file]
#
# Without a state file it starts its own Redis-only sandbox and stops it at the end. With one (e.g. a running
# tests sandbox) it works in database 9 only, never touching the seeded database 0.
# Needs: the built module (dotnet pwsh ./build.ps1), redis-cli, /usr/bin/time, jq, awk, bc, shuf.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
module="$root/out/PuoOps/0.1.0/PuoOps.psd1"
runs=${RUNS:-3}
db=9
pattern_keys=1000000
other_keys=100000
work=$(mktemp -d /tmp/puo-bench-redis-XXXXXX)
own_sandbox=""
state=${1:-}

cleanup() {
    if [[ -n "$own_sandbox" ]]; then
        (cd "$root" && dotnet pwsh -NoProfile -File tests/Sandbox/Sandbox.ps1 -Action Stop -StateFile "$state" >/dev/null) || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

[[ -f "$module" ]] || { echo "Build the module first: dotnet pwsh ./build.ps1 -Task Build" >&2; exit 1; }
if [[ -z "$state" ]]; then
    state="$work/state.json"
    own_sandbox=1
    echo "Starting a Redis-only sandbox ..."
    (cd "$root" && dotnet pwsh -NoProfile -File tests/Sandbox/Sandbox.ps1 -Action Start -StateFile "$state" -Services Redis >/dev/null)
fi
port=$(jq -r .Redis.Port "$state")
export REDISCLI_AUTH=$(jq -r .Redis.Password "$state")   # redis-cli reads it; never on a command line
connection="$(jq -r .Redis.ConnectionString "$state"),defaultDatabase=$db"
cli() { redis-cli -h 127.0.0.1 -p "$port" -n "$db" --no-auth-warning "$@"; }
pwsh_dll="$(cd "$root" && dotnet pwsh -NoProfile -c '$PSHOME')/pwsh.dll"

# The seed, written once as RESP for redis-cli --pipe: puo:cache:N and other:key:N interleaved.
awk -v n="$pattern_keys" -v m="$other_keys" 'BEGIN {
    for (i = 0; i < n; i++) {
        k = "puo:cache:" i; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", length(k), k
        if (i % 10 == 0 && i / 10 < m) { k = "other:key:" i / 10; printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", length(k), k }
    } }' > "$work/seed.resp"

seed() {
    cli FLUSHDB >/dev/null
    cli --pipe < "$work/seed.resp" >/dev/null
    local size; size=$(cli DBSIZE)
    [[ "$size" == $((pattern_keys + other_keys)) ]] || { echo "seeding gave $size keys" >&2; exit 1; }
}

check_others() {
    local size; size=$(cli DBSIZE)
    local others; others=$(cli --scan --pattern 'other:*' | wc -l)
    if [[ "$size" != "$other_keys" || "$others" != "$other_keys" ]]; then
        echo "FAILED: $1 left $size keys, $others of the $other_keys other:* keys" >&2; exit 1
    fi
}

now() { date +%s.%N; }

# SCAN MATCH 'puo:*' COUNT 1000 over the whole keyspace, names thrown away (redis-cli 7.0 has no --scan --count).
scan_alone() {
    local cursor=0
    while :; do
        local reply; mapfile -t reply < <(cli SCAN "$cursor" MATCH 'puo:*' COUNT 1000)
        cursor=${reply[0]}
        [[ "$cursor" == 0 ]] && break
    done
}

# Server CPU of what ran since the last reset (INFO commandstats usec, in seconds): the part of the work done
# by Redis itself, much less noisy than wall time on a shared machine. A script's SCAN and UNLINK calls are
# counted both in its EVAL and on their own, so when EVAL ran only EVAL counts.
reset_stats() { cli CONFIG RESETSTAT >/dev/null; }
server_seconds() {
    cli INFO commandstats | awk -F'usec=' '/^cmdstat_/ && !/cmdstat_(info|config|dbsize)/ {
        split($2, a, ","); all += a[1]; if ($1 ~ /^cmdstat_eval:/) eval += a[1] }
        END { printf "%.3f", (eval > 0 ? eval : all) / 1e6 }'
}

cat > "$work/clear.ps1" <<PS
\$ErrorActionPreference = 'Stop'
Import-Module '$module'
Connect-PuoEnvironment -Name bench -RedisConnectionString \$env:BENCH_REDIS -SkipCheck
\$null = Test-PuoRedis   # connect first: the measurement is the clear, as in an operator's open session
\$watch = [Diagnostics.Stopwatch]::StartNew()
\$r = Clear-PuoCache -Pattern 'puo:*' -Confirm:\$false
\$watch.Stop()
"{0} {1} {2} {3}" -f \$watch.Elapsed.TotalSeconds, \$r.Deleted, \$r.StoppedEarly, [Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
PS

declare -a t_runbook t_cmdlet t_cmdlet_process t_flush rss_kb peak_ws c_runbook c_cmdlet c_flush c_scan

# The three sides, each on freshly seeded data; every round runs them in a random order (shuf), so none always
# meets the warmer or the colder server.
side_runbook() {
    seed
    reset_stats
    start=$(now)
    cli --scan --pattern 'puo:*' | xargs redis-cli -h 127.0.0.1 -p "$port" -n "$db" --no-auth-warning DEL >/dev/null
    t_runbook+=($(echo "$(now) - $start" | bc))
    c_runbook+=($(server_seconds))
    check_others "the runbook pipeline"
}

side_cmdlet() {
    seed
    reset_stats
    start=$(now)
    out=$(BENCH_REDIS="$connection" /usr/bin/time -v -o "$work/time.txt" dotnet "$pwsh_dll" -NoProfile -NonInteractive -File "$work/clear.ps1")
    t_cmdlet_process+=($(echo "$(now) - $start" | bc))
    read -r seconds deleted stopped ws <<<"$(echo "$out" | tail -1)"
    [[ "$deleted" == "$pattern_keys" && "$stopped" == "False" ]] || { echo "FAILED: Clear-PuoCache said: $out" >&2; exit 1; }
    t_cmdlet+=("$seconds")
    c_cmdlet+=($(server_seconds))
    rss_kb+=($(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt"))
    peak_ws+=("$ws")
    check_others "Clear-PuoCache"
}

side_flush() {
    seed
    reset_stats
    start=$(now)
    cli FLUSHDB >/dev/null
    t_flush+=($(echo "$(now) - $start" | bc))
    c_flush+=($(server_seconds))
}

for ((run = 1; run <= runs; run++)); do
    order=$(printf '%s\n' runbook cmdlet flush | shuf | tr '\n' ' ')
    echo "Round $run of $runs: $order"
    seed
    reset_stats
    scan_alone
    c_scan+=($(server_seconds))
    for side in $order; do "side_$side"; done
    printf '  runbook %.3f s | Clear-PuoCache %.3f s (pwsh process %.3f s, %s MB peak RSS) | FLUSHDB %.3f s\n' \
        "${t_runbook[-1]}" "${t_cmdlet[-1]}" "${t_cmdlet_process[-1]}" "$((rss_kb[-1] / 1024))" "${t_flush[-1]}"
    printf '  server CPU: runbook %.3f s | Clear-PuoCache %.3f s | FLUSHDB %.3f s | SCAN alone %.3f s | load average %s\n' \
        "${c_runbook[-1]}" "${c_cmdlet[-1]}" "${c_flush[-1]}" "${c_scan[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
runbook=$(median "${t_runbook[@]}"); cmdlet=$(median "${t_cmdlet[@]}"); process=$(median "${t_cmdlet_process[@]}"); flush=$(median "${t_flush[@]}")
rss=$(median "${rss_kb[@]}"); ws=$(median "${peak_ws[@]}")
echo
echo "Medians of $runs rounds, $pattern_keys puo:* keys among $((pattern_keys + other_keys)):"
printf '  runbook  redis-cli --scan --pattern "puo:*" | xargs redis-cli DEL   %8.3f s\n' "$runbook"
printf '  Clear-PuoCache -Pattern "puo:*" -Confirm:$false (in session)     %8.3f s\n' "$cmdlet"
printf '  the same, whole pwsh process (start, import, connect, clear)     %8.3f s\n' "$process"
printf '  FLUSHDB (floor)                                                  %8.3f s\n' "$flush"
printf '  speed-up over the runbook: %.1fx (target >= 8x); whole process: %.1fx\n' "$(echo "$runbook / $cmdlet" | bc -l)" "$(echo "$runbook / $process" | bc -l)"
printf '  vs FLUSHDB: %.2fx (target <= 3x)\n' "$(echo "$cmdlet / $flush" | bc -l)"
printf '  pwsh peak memory: %d MB max RSS (/usr/bin/time -v), %d MB PeakWorkingSet64 (target < 200 MB)\n' "$((rss / 1024))" "$(echo "$ws / 1048576" | bc)"
echo "  other:* keys intact after every run: yes ($other_keys)"
cr=$(median "${c_runbook[@]}"); cc=$(median "${c_cmdlet[@]}"); cf=$(median "${c_flush[@]}"); cs=$(median "${c_scan[@]}")
printf '  Redis server CPU (INFO commandstats): runbook %.3f s, Clear-PuoCache %.3f s, FLUSHDB %.3f s: %.2fx the runbook'"'"'s, %.2fx FLUSHDB'"'"'s\n' \
    "$cr" "$cc" "$cf" "$(echo "$cc / $cr" | bc -l)" "$(echo "$cc / $cf" | bc -l)"
printf '  SCAN MATCH "puo:*" alone, deleting nothing: %.3f s of server CPU = %.2fx FLUSHDB'"'"'s; the runbook'"'"'s wall time / 8 is %.3f s\n' \
    "$cs" "$(echo "$cs / $cf" | bc -l)" "$(echo "$runbook / 8" | bc -l)"
