#!/bin/sh
# test_mpirun_domain.sh - under mpirun (a PMIx launcher) the domain is the
# job's with no configuration: the 3 ranks of one job meet in domain
# "job.<PMIx namespace>", and two jobs running at the same time do not meet
# (each rank of a 2-rank job sees exactly one other process). A non-MPI job
# on one host uses the local boot, so a job in which only some ranks use
# the library ends normally; with boot = pmix the peer ids are the ranks.
# Jobs on two hosts (the PMIx boot by default): test_mpirun_hosts.sh.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun not installed (openmpi-bin)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset UCX_CPG_DOMAIN UCX_CPG_BOOT
RUN="timeout 90 mpirun --allow-run-as-root --oversubscribe"
fail() { echo "FAIL: $*"; cat "$T"/*.log; exit 1; }

$RUN -np 3 "$B/ucx_cpg_info" -w 2 -t 30 >"$T/three.log" 2>&1 || fail "3 ranks did not meet"
[ "$(grep -c "^domain 'job\.[^']*'.*: 3 process(es)" "$T/three.log")" -eq 3 ] ||
    fail "3 ranks did not report one job domain of 3"
[ "$(grep "^domain '" "$T/three.log" | sort -u | wc -l)" -eq 1 ] || fail "ranks disagree on the domain"
# A non-MPI job on one host keeps the local boot (mpirun would fail a job
# whose ranks did not all initialize PMIx once one has): here only rank 0
# uses the library, and the job must still end with status 0.
$RUN -np 2 sh -c 'if [ "$OMPI_COMM_WORLD_RANK" = 0 ]; then exec "$0" -t 10; fi; sleep 2' \
    "$B/ucx_cpg_info" >"$T/some.log" 2>&1 || fail "a job in which only rank 0 uses the library failed"
grep -q "^domain 'job\.[^']*' (boot: local" "$T/some.log" || fail "a one-host non-MPI job did not use the local boot"
if "$B/ucx_cpg_info" -c 2>/dev/null | grep -q "pmix=yes"; then
    # boot = pmix on one host: peer ids are the ranks 0-2, all on one node id
    $RUN -x UCX_CPG_BOOT=pmix -np 3 "$B/ucx_cpg_info" -w 2 -t 30 >"$T/pmix.log" 2>&1 ||
        fail "3 ranks with boot = pmix did not meet"
    grep -q "^domain 'job\.[^']*' (boot: pmix" "$T/pmix.log" || fail "boot method is not pmix"
    [ "$(awk '$4 == "up" { print $1 }' "$T/pmix.log" | sort -u | tr '\n' ' ')" = "0 1 2 " ] ||
        fail "peer ids are not the ranks 0-2"
    [ "$(awk '$4 == "up" { print $2 }' "$T/pmix.log" | sort -u | wc -l)" -eq 1 ] ||
        fail "ranks of one host have different node ids"
fi

# Two jobs at once: -w 1 succeeds for each rank, and -l keeps both jobs alive
# together; a rank seeing 3 or 4 processes would mean the jobs met.
$RUN -np 2 "$B/ucx_cpg_info" -w 1 -t 30 -l 3000 >"$T/a.log" 2>&1 & A=$!
$RUN -np 2 "$B/ucx_cpg_info" -w 1 -t 30 -l 3000 >"$T/b.log" 2>&1 & Bp=$!
wait $A || fail "job a"
wait $Bp || fail "job b"
for j in a b; do
    [ "$(grep -c "^domain 'job\.[^']*'.*: 2 process(es)" "$T/$j.log")" -eq 2 ] ||
        fail "job $j: ranks did not see exactly their own job"
done
da=$(grep "^domain '" "$T/a.log" | head -1 | cut -d"'" -f2)
db=$(grep "^domain '" "$T/b.log" | head -1 | cut -d"'" -f2)
[ "$da" != "$db" ] || fail "both jobs got domain $da"

# An explicit domain name is kept under mpirun.
UCX_CPG_DOMAIN="mpd_$$" $RUN -x UCX_CPG_DOMAIN -np 2 "$B/ucx_cpg_info" -w 1 -t 30 >"$T/named.log" 2>&1 ||
    fail "named domain"
[ "$(grep -c "^domain 'mpd_$$'" "$T/named.log")" -eq 2 ] || fail "UCX_CPG_DOMAIN was not kept"
cat "$T/three.log" | grep "^domain '"
echo "PASS: mpirun jobs get their own domain ($da, $db)"
