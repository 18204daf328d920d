#!/bin/sh
# test_perftest.sh - ucx_cpg_perftest end to end: a short run of every test
# (RSM: server + client; CPG: server + client and local mode -N), every
# output format parsed and checked (table, -f, CSV, JSON), bad command lines
# refused with a usage message and exit status 2, another host refused, a
# missing server, a domain mismatch, CPU pinning, progress lines, the time
# limit (-T), and a peer or member killed mid-run (the survivors must stop,
# not hang). Correctness only: no number is compared with a threshold.
#
# Every run has its own UCX_CPG_DOMAIN (perftest_<pid>) and a private
# registry directory, servers take a free port (-p 0) and print it, and
# every process runs under timeout(1) as well as ucx_cpg_perftest's own -T.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
PT="$B/ucx_cpg_perftest"
PTC="$B/ucx_cpg_perftest_cpg"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/test_perftest.XXXXXX")
REG=$(mktemp -d /dev/shm/test_perftest.XXXXXX 2>/dev/null) || REG="$TMP/registry"
mkdir -p "$REG"
export UCX_CPG_DOMAIN="perftest_$$"
export UCX_CPG_REGISTRY_DIR="$REG"
LIMIT=90          # timeout(1) of every process
TLIM=80           # ucx_cpg_perftest -T
N=300             # iterations of the short runs
W=20
passes=0
fails=0
BG=               # background processes started here

cleanup() {
    for p in $BG; do
        kill -KILL "$p" 2>/dev/null
    done
    rm -rf "$TMP" "$REG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS $1"; passes=$((passes + 1)); }
fail() {
    echo "FAIL $1: $2"
    shift 2
    for f in "$@"; do
        [ -f "$f" ] && sed 's/^/    | /' "$f" | tail -25
    done
    fails=$((fails + 1))
}

for exe in "$PT" "$PTC"; do
    if [ ! -x "$exe" ]; then
        echo "FAIL setup: $exe not built"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
NCPU=$(nproc 2>/dev/null || echo 1)
LASTCPU=$((NCPU - 1))

# --- helpers ----------------------------------------------------------------------

# children PID: the pids of PID's children (from /proc: no procps needed)
children() {
    for st in /proc/[0-9]*/stat; do
        line=$(cat "$st" 2>/dev/null) || continue
        rest=${line##*) }                  # after "(command) ": "STATE PPID ..."
        [ "$(echo "$rest" | cut -d' ' -f2)" = "$1" ] && echo "${line%% *}"
    done
}

# start_server NAME [options]: a server on a free port; sets SPID and SPORT.
start_server() {
    sname=$1
    shift
    timeout -k 5 $LIMIT "$PT" -p 0 -T $TLIM "$@" >"$TMP/$sname.srv" 2>&1 &
    SPID=$!
    BG="$BG $SPID"
    SPORT=
    i=0
    while [ $i -lt 100 ]; do
        SPORT=$(sed -n 's/^Waiting for connection on 127\.0\.0\.1:\([0-9]*\)\.\.\.$/\1/p' \
                "$TMP/$sname.srv")
        [ -n "$SPORT" ] && return 0
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# run_pair NAME CLIENT_OPTIONS...: server + client; 0 if both exited 0.
# The client's output is $TMP/NAME.out (stdout) and $TMP/NAME.err.
run_pair() {
    pname=$1
    shift
    if ! start_server "$pname" -c 0; then
        fail "$pname" "the server did not start" "$TMP/$pname.srv"
        return 1
    fi
    timeout -k 5 $LIMIT "$PT" localhost -p "$SPORT" -T $TLIM "$@" \
        >"$TMP/$pname.out" 2>"$TMP/$pname.err"
    crc=$?
    wait "$SPID"
    src=$?
    if [ $crc -ne 0 ] || [ $src -ne 0 ]; then
        fail "$pname" "client exit $crc, server exit $src" "$TMP/$pname.err" "$TMP/$pname.srv"
        return 1
    fi
    return 0
}

# run_local NAME OPTIONS...: local mode; 0 if it exited 0.
run_local() {
    lname=$1
    shift
    timeout -k 5 $LIMIT "$PT" -T $TLIM "$@" >"$TMP/$lname.out" 2>"$TMP/$lname.err"
    lrc=$?
    if [ $lrc -ne 0 ]; then
        fail "$lname" "exit status $lrc" "$TMP/$lname.err" "$TMP/$lname.out"
        return 1
    fi
    return 0
}

# check_table NAME FILE SIZES ITERS: one "Final:" line per size, each with
# eight numbers, ITERS iterations and a positive overall latency.
check_table() {
    if awk -v n="$(echo "$3" | tr ',' '\n' | wc -l)" -v it="$4" '
        /^Final:/ { f++; if (NF != 9 || $2 != it || !($5 > 0) || !($9 > 0)) bad = bad " " NR }
        /^\|    Stage     \| # iterations \| 50.0%ile \| average \| overall \|/ { h++ }
        /^\| Message size: / { s++ }
        END { if (f != n || h != n || s != n || bad != "") {
                  printf "finals %d headers %d boxes %d of %d; bad lines:%s\n", f, h, s, n, bad
                  exit 1 } }' "$2" >"$TMP/$1.chk"; then
        pass "$1"
    else
        fail "$1" "table check: $(cat "$TMP/$1.chk")" "$2"
    fi
}

# check_final_only NAME FILE SIZES ITERS: -f: one header, eight numbers a line.
check_final_only() {
    if awk -v n="$(echo "$3" | tr ',' '\n' | wc -l)" -v it="$4" '
        /^\|     Test     \| # iterations/ { h++ }
        NF == 8 && $1 ~ /^[0-9]+$/ { f++; if ($1 != it || !($4 > 0)) bad = bad " " NR }
        /Final:|^\[/ { other++ }
        END { if (f != n || h != 1 || other || bad != "") {
                  printf "lines %d of %d, headers %d, others %d, bad:%s\n", f, n, h, other, bad
                  exit 1 } }' "$2" >"$TMP/$1.chk"; then
        pass "$1"
    else
        fail "$1" "-f check: $(cat "$TMP/$1.chk")" "$2"
    fi
}

# check_csv NAME FILE TEST SIZES ITERS
check_csv() {
    if awk -F, -v t="$3" -v sizes="$4" -v it="$5" '
        BEGIN { n = split(sizes, sz, ",") }
        NR == 1 { if ($0 != "test,size,members,senders,guarantee,iterations,50.0_percentile_lat,avg_lat,overall_lat,avg_bw,overall_bw,avg_mr,overall_mr,elapsed_s,retries") { print "header: " $0; exit 1 }; next }
        { r++
          if (NF != 15 || $1 != t || $2 != sz[r] || $6 != it || !($9 > 0) || !($13 > 0) || !($14 > 0))
              bad = bad " row" r }
        END { if (r != n || bad != "") { printf "rows %d of %d; bad:%s\n", r, n, bad; exit 1 } }' \
        "$2" >"$TMP/$1.chk"; then
        pass "$1"
    else
        fail "$1" "CSV check: $(cat "$TMP/$1.chk")" "$2"
    fi
}

# check_json NAME FILE TEST SIZES ITERS: parsed with python3 or jq; without
# either, a structural check (said so in the output).
check_json() {
    if command -v python3 >/dev/null 2>&1; then
        python3 - "$2" "$3" "$4" "$5" >"$TMP/$1.chk" 2>&1 <<'PY'
import json, sys
path, test, sizes, iters = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")], int(sys.argv[4])
doc = json.load(open(path))
assert doc["tool"] == "ucx_cpg_perftest", doc.get("tool")
assert doc["test"] == test, doc["test"]
assert doc["status"] == "ok" and doc["exit_status"] == 0 and doc["error"] is None, doc
assert doc["units"]["bandwidth"] == "MiB/s"
res = doc["results"]
assert [r["size"] for r in res] == sizes, [r["size"] for r in res]
for r in res:
    assert r["iterations"] == iters, r
    assert r["latency"]["overall"] > 0 and r["message_rate"]["overall"] > 0, r
    assert r["elapsed_s"] > 0 and r["errors"] == 0, r
    assert set(r["latency"]) == {"typical", "average", "overall"}, r
PY
    elif command -v jq >/dev/null 2>&1; then
        jq -e --arg t "$3" --arg s "$4" --argjson it "$5" '
            .tool == "ucx_cpg_perftest" and .test == $t and .status == "ok" and
            ([.results[].size | tostring] | join(",")) == $s and
            all(.results[]; .iterations == $it and .latency.overall > 0)' "$2" \
            >"$TMP/$1.chk" 2>&1
    else
        echo "note: neither python3 nor jq: structural JSON check only" >&2
        awk -v n="$(echo "$4" | tr ',' '\n' | wc -l)" '
            { text = text $0 "\n" }
            END { depth = 0; instr = 0
                  for (i = 1; i <= length(text); i++) {
                      c = substr(text, i, 1)
                      if (instr) { if (c == "\\") i++; else if (c == "\"") instr = 0; continue }
                      if (c == "\"") instr = 1
                      else if (c == "{" || c == "[") depth++
                      else if (c == "}" || c == "]") { depth--; if (depth < 0) exit 1 }
                  }
                  k = gsub(/"size":/, "", text)
                  if (depth != 0 || instr || k != n || text !~ /"status":"ok"/) exit 1 }' \
            "$2" >"$TMP/$1.chk" 2>&1
    fi
    jrc=$?
    if [ $jrc -eq 0 ]; then
        pass "$1"
    else
        fail "$1" "JSON check: $(tail -3 "$TMP/$1.chk")" "$2"
    fi
}

# expect_usage NAME ARGS...: exit status 2, "usage:" and a reason on stderr.
expect_usage() {
    uname=$1
    shift
    timeout -k 5 30 "$PT" "$@" >"$TMP/$uname.out" 2>"$TMP/$uname.err"
    urc=$?
    if [ $urc -eq 2 ] && grep -q "^usage:" "$TMP/$uname.err" &&
        grep -q "^ucx_cpg_perftest: " "$TMP/$uname.err"; then
        pass "$uname"
    else
        fail "$uname" "exit status $urc (want 2 with a reason and the usage)" "$TMP/$uname.err"
    fi
}

# --- the command line -----------------------------------------------------------------

expect_usage usage_client_without_test localhost
expect_usage usage_unknown_option -Z
expect_usage usage_unknown_test localhost -t ucp_put_lat
expect_usage usage_local_mode_rsm_test -N 2 -t rsm_put_lat
expect_usage usage_size_below_cpg_header -N 2 -t cpg_mcast_lat -s 4
expect_usage usage_missing_value localhost -t
expect_usage usage_bad_iterations localhost -t rsm_get_lat -n 0
expect_usage usage_guarantee_on_rsm localhost -t rsm_get_lat -g safe
expect_usage usage_two_hosts -t rsm_get_lat host1 host2
expect_usage usage_bad_output_format localhost -t rsm_get_lat -o xml

if "$PT" -h >"$TMP/help.out" 2>&1 && grep -q "^usage:" "$TMP/help.out" && grep -q "cpg_mcast_rate" "$TMP/help.out"; then
    pass help_prints_usage_and_exits_0
else
    fail help_prints_usage_and_exits_0 "no usage on stdout" "$TMP/help.out"
fi

timeout -k 5 30 "$PT" 192.0.2.1 -t rsm_put_lat >"$TMP/remote.out" 2>"$TMP/remote.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "not this host: the server and the client meet in this host" "$TMP/remote.err"; then
    pass another_host_is_refused_before_any_connection
else
    fail another_host_is_refused_before_any_connection "exit status $rc" "$TMP/remote.err"
fi

# A port nobody listens on, and nobody can take while the client tries it: a
# socket bound to it but not listening (connect gets ECONNREFUSED) holds it.
# A port freed by a stopped server is not enough: any UCX TCP listener of a
# test running beside this one may bind it in between (seen once in CI).
perl -MSocket -e 'socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
    bind($s, sockaddr_in(0, INADDR_LOOPBACK)) or die "bind: $!";
    my ($port) = sockaddr_in(getsockname($s));
    $| = 1; print "$port\n"; sleep 60' >"$TMP/noserver.port" 2>&1 &
HOLDER=$!
BG="$BG $HOLDER"
i=0
while [ $i -lt 50 ] && ! grep -q '^[0-9][0-9]*$' "$TMP/noserver.port"; do
    sleep 0.1
    i=$((i + 1))
done
NOPORT=$(cat "$TMP/noserver.port")
timeout -k 5 30 "$PT" localhost -p "$NOPORT" -t rsm_get_lat -T 20 >"$TMP/noserver.out" \
    2>"$TMP/noserver.err"
rc=$?
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
if [ $rc -eq 3 ] && grep -q "cannot connect to the server" "$TMP/noserver.err"; then
    pass client_without_server_fails_with_setup_status
else
    fail client_without_server_fails_with_setup_status "exit status $rc" "$TMP/noserver.err"
fi

timeout -k 5 30 "$PT" localhost -t rsm_get_lat -c 1023 -T 20 >"$TMP/badcpu.out" 2>"$TMP/badcpu.err"
rc=$?
if [ $rc -eq 3 ] && grep -q "cannot pin" "$TMP/badcpu.err"; then
    pass pinning_to_a_missing_cpu_fails_with_setup_status
else
    fail pinning_to_a_missing_cpu_fails_with_setup_status "exit status $rc" "$TMP/badcpu.err"
fi

# --- RSM: every test, server + client --------------------------------------------------

run_pair rsm_put_lat -t rsm_put_lat -s 1,8,4097 -n $N -w $W -c $LASTCPU &&
    check_table rsm_put_lat "$TMP/rsm_put_lat.out" 1,8,4097 $N
run_pair rsm_get_lat -t rsm_get_lat -s 8,4096 -n $N -w $W -o csv &&
    check_csv rsm_get_lat "$TMP/rsm_get_lat.out" rsm_get_lat 8,4096 $N
run_pair rsm_put_bw -t rsm_put_bw -s 8,65536 -n $N -w $W -o json &&
    check_json rsm_put_bw "$TMP/rsm_put_bw.out" rsm_put_bw 8,65536 $N
run_pair rsm_get_bw -t rsm_get_bw -s 8,65536 -n $N -w $W -f &&
    check_final_only rsm_get_bw "$TMP/rsm_get_bw.out" 8,65536 $N
run_pair rsm_putv_bw -t rsm_putv_bw -s 8,100000 -n $N -w $W -v &&
    check_csv rsm_putv_bw "$TMP/rsm_putv_bw.out" rsm_putv_bw 8,100000 $N
run_pair rsm_map_bw -t rsm_map_bw -s 8,4096 -n $N -w $W -o json &&
    check_json rsm_map_bw "$TMP/rsm_map_bw.out" rsm_map_bw 8,4096 $N
run_pair rsm_signal_lat -t rsm_signal_lat -s 0,8,4096 -n $N -w $W &&
    check_table rsm_signal_lat "$TMP/rsm_signal_lat.out" 0,8,4096 $N

# --- CPG: server + client ---------------------------------------------------------------

run_pair cpg_pair_lat -t cpg_mcast_lat -s 8,4096 -n $N -w $W -o csv &&
    check_csv cpg_pair_lat "$TMP/cpg_pair_lat.out" cpg_mcast_lat 8,4096 $N
run_pair cpg_pair_bw_safe -t cpg_mcast_bw -s 8,4096 -n $N -w $W -g safe -o json &&
    check_json cpg_pair_bw_safe "$TMP/cpg_pair_bw_safe.out" cpg_mcast_bw 8,4096 $N
run_pair cpg_pair_rate -t cpg_mcast_rate -s 64 -n $N -w $W &&
    check_table cpg_pair_rate "$TMP/cpg_pair_rate.out" 64 $((2 * N))

# --- CPG: local mode ------------------------------------------------------------------------

run_local cpg_local_lat -N 3 -t cpg_mcast_lat -s 8,1000 -n $N -w $W -o json &&
    check_json cpg_local_lat "$TMP/cpg_local_lat.out" cpg_mcast_lat 8,1000 $N
run_local cpg_local_bw -N 3 -S 2 -t cpg_mcast_bw -s 8,65536 -n $N -w $W -V -o csv &&
    check_csv cpg_local_bw "$TMP/cpg_local_bw.out" cpg_mcast_bw 8,65536 $((2 * N))
run_local cpg_local_rate -N 4 -t cpg_mcast_rate -s 64 -n $N -w $W -E sleep -c 0 &&
    check_table cpg_local_rate "$TMP/cpg_local_rate.out" 64 $((4 * N))
run_local cpg_local_single -N 1 -t cpg_mcast_bw -s 32 -n $N -w $W -o csv &&
    check_csv cpg_local_single "$TMP/cpg_local_single.out" cpg_mcast_bw 32 $N

# the CPG-only build (the one compare.sh runs on corosync), here on ucx_cpg's libcpg.so.4
timeout -k 5 $LIMIT "$PTC" -N 2 -t cpg_mcast_rate -s 64 -n $N -w $W -T $TLIM -o csv \
    >"$TMP/cpg_only.out" 2>"$TMP/cpg_only.err"
rc=$?
if [ $rc -eq 0 ]; then
    check_csv cpg_only_build_runs_the_cpg_tests "$TMP/cpg_only.out" cpg_mcast_rate 64 $((2 * N))
else
    fail cpg_only_build_runs_the_cpg_tests "exit status $rc" "$TMP/cpg_only.err"
fi
"$PTC" localhost -t rsm_get_lat >"$TMP/cpg_only_rsm.out" 2>"$TMP/cpg_only_rsm.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "CPG tests only" "$TMP/cpg_only_rsm.err"; then
    pass cpg_only_build_refuses_rsm_tests
else
    fail cpg_only_build_refuses_rsm_tests "exit status $rc" "$TMP/cpg_only_rsm.err"
fi

# --- domains --------------------------------------------------------------------------------

# a client without UCX_CPG_DOMAIN / UCX_CPG_REGISTRY_DIR takes the server's
if start_server adopt; then
    timeout -k 5 $LIMIT env -u UCX_CPG_DOMAIN -u UCX_CPG_REGISTRY_DIR "$PT" localhost \
        -p "$SPORT" -t rsm_get_lat -n $N -w $W -T $TLIM -o csv >"$TMP/adopt.out" 2>"$TMP/adopt.err"
    crc=$?
    wait "$SPID"
    src=$?
    if [ $crc -eq 0 ] && [ $src -eq 0 ]; then
        check_csv client_adopts_the_servers_domain "$TMP/adopt.out" rsm_get_lat 8 $N
    else
        fail client_adopts_the_servers_domain "client $crc, server $src" "$TMP/adopt.err" \
            "$TMP/adopt.srv"
    fi
else
    fail client_adopts_the_servers_domain "the server did not start" "$TMP/adopt.srv"
fi

if start_server mismatch; then
    start=$(date +%s)
    timeout -k 5 $LIMIT env UCX_CPG_DOMAIN="other_$$" "$PT" localhost -p "$SPORT" \
        -t cpg_mcast_lat -T $TLIM >"$TMP/mismatch.out" 2>"$TMP/mismatch.err"
    crc=$?
    wait "$SPID"
    src=$?
    took=$(($(date +%s) - start))
    if [ $crc -eq 3 ] && [ $src -eq 1 ] && [ $took -le 20 ] &&
        grep -q "the server uses UCX_CPG_DOMAIN=perftest_$$, this client other_$$" "$TMP/mismatch.err" &&
        grep -q "the peer failed: the server uses" "$TMP/mismatch.srv"; then
        pass different_domains_are_refused_on_both_sides
    else
        fail different_domains_are_refused_on_both_sides "client $crc, server $src, $took s" \
            "$TMP/mismatch.err" "$TMP/mismatch.srv"
    fi
else
    fail different_domains_are_refused_on_both_sides "the server did not start" "$TMP/mismatch.srv"
fi

# --- progress lines and the time limit --------------------------------------------------------

# 1 MiB gets take 20-80 us here: 100000 of them last more than a second
run_pair progress -t rsm_get_bw -s 1m -n 100000 -w 10 &&
    if grep -Eq '^\[[0-9]+\.[0-9] s\] +[0-9]+ ' "$TMP/progress.out" &&
        grep -q '^Final: ' "$TMP/progress.out"; then
        pass long_runs_print_progress_lines
    else
        fail long_runs_print_progress_lines "no progress line" "$TMP/progress.out"
    fi

start=$(date +%s)
timeout -k 5 60 "$PT" -N 2 -t cpg_mcast_lat -n 1000000000 -T 3 >"$TMP/limit.out" 2>"$TMP/limit.err"
rc=$?
took=$(($(date +%s) - start))
if [ $rc -eq 4 ] && [ $took -le 30 ] && grep -q "time limit" "$TMP/limit.err"; then
    pass time_limit_ends_a_local_run_with_status_4
else
    fail time_limit_ends_a_local_run_with_status_4 "exit status $rc after $took s" "$TMP/limit.err"
fi

# --- a peer or member dies mid-run: the others stop -------------------------------------------

# killed client (not under timeout(1): the kill must reach it): the server,
# spinning on its memory, notices either the control connection close or its
# import of the client's segment being aborted (whichever comes first), and
# stops with status 1 saying which
if start_server killclient -c 0; then
    "$PT" localhost -p "$SPORT" -t rsm_put_lat -n 1000000000 -T $TLIM \
        >"$TMP/killclient.out" 2>&1 &
    CPID=$!
    BG="$BG $CPID"
    sleep 2
    kill -KILL "$CPID" 2>/dev/null
    start=$(date +%s)
    wait "$SPID"
    src=$?
    took=$(($(date +%s) - start))
    if [ $src -eq 1 ] && [ $took -le 20 ] &&
        grep -Eq "peer closed the control connection|RSMERR_CONN_ABORTED" "$TMP/killclient.srv"; then
        pass server_stops_when_its_client_dies
    else
        fail server_stops_when_its_client_dies "server exit $src after $took s" "$TMP/killclient.srv"
    fi
else
    fail server_stops_when_its_client_dies "the server did not start" "$TMP/killclient.srv"
fi

# killed member: the others see it leave, the reporter says so and exits 1,
# and no member is left behind
"$PT" -N 3 -t cpg_mcast_rate -n 1000000000 -T 60 >"$TMP/killmember.out" 2>"$TMP/killmember.err" &
LPID=$!
BG="$BG $LPID"
members=
i=0
while [ $i -lt 100 ] && [ "$(echo "$members" | wc -w)" -lt 3 ]; do
    sleep 0.1
    members=$(children "$LPID" | tr '\n' ' ')
    i=$((i + 1))
done
BG="$BG $members"
victim=$(echo "$members" | awk '{ print $2 }')
sleep 2
[ -n "$victim" ] && kill -KILL "$victim"
start=$(date +%s)
wait "$LPID"
rc=$?
took=$(($(date +%s) - start))
sleep 0.5
left=0
for p in $members; do
    kill -0 "$p" 2>/dev/null && left=$((left + 1))
done
if [ -n "$victim" ] && [ $rc -eq 1 ] && [ $took -le 20 ] && [ "$left" -eq 0 ] &&
    grep -Eq "left the group|killed by signal" "$TMP/killmember.err"; then
    pass local_run_stops_when_a_member_dies
else
    fail local_run_stops_when_a_member_dies "victim '$victim', exit $rc after $took s, $left left" \
        "$TMP/killmember.err"
fi

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
