#!/bin/sh
# test_tools.sh - the command-line contract of ucx_cpg_info, ucx_cpg_demo and
# ucx_cpg_testcpg:
# usage errors exit 2 with a usage message, bad configuration exits 3 with a
# message naming the variable and its valid range, -c prints the effective
# configuration with each value's origin, and a config file is honoured;
# an interactive ucx_cpg_testcpg removed from its group stops sending and
# can join again.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
INFO="$B/ucx_cpg_info"
DEMO="$B/ucx_cpg_demo"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export UCX_CPG_DOMAIN="tools_$$"
fails=0

check() {  # check NAME EXPECTED_STATUS ACTUAL_STATUS [grep-pattern file]
    name=$1; want=$2; got=$3
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: exit status $got, want $want"; cat "$TMP/out" "$TMP/err"; fails=$((fails + 1)); return
    fi
    if [ $# -ge 5 ] && ! grep -q -- "$4" "$5"; then
        echo "FAIL $name: no '$4' in output"; cat "$TMP/out" "$TMP/err"; fails=$((fails + 1)); return
    fi
    echo "PASS $name"
}

"$INFO" -x >"$TMP/out" 2>"$TMP/err"; check info_bad_option_is_usage_error 2 $? "usage:" "$TMP/err"
"$INFO" -w abc >"$TMP/out" 2>"$TMP/err"; check info_bad_wait_count_is_usage_error 2 $? "-w expects" "$TMP/err"
"$INFO" extra >"$TMP/out" 2>"$TMP/err"; check info_extra_argument_is_usage_error 2 $? "unexpected argument" "$TMP/err"
"$INFO" -h >"$TMP/out" 2>"$TMP/err"; check info_help_exits_0 0 $? "usage:" "$TMP/out"
"$DEMO" -n 0 >"$TMP/out" 2>"$TMP/err"; check demo_bad_option_is_usage_error 2 $? "usage:" "$TMP/err"
"$DEMO" -n 4x >"$TMP/out" 2>"$TMP/err"; check demo_trailing_garbage_is_usage_error 2 $? "usage:" "$TMP/err"
"$DEMO" -i -1 >"$TMP/out" 2>"$TMP/err"; check demo_negative_count_is_usage_error 2 $? "usage:" "$TMP/err"
"$DEMO" -s 4294967297 >"$TMP/out" 2>"$TMP/err"; check demo_huge_size_is_usage_error 2 $? "usage:" "$TMP/err"
"$DEMO" -h >"$TMP/out" 2>"$TMP/err"; check demo_help_exits_0 0 $? "usage:" "$TMP/out"
"$B/ucx_cpg_testcpg" -w 2 >"$TMP/out" 2>"$TMP/err"; check testcpg_wait_without_count_is_usage_error 2 $? "usage:" "$TMP/err"
"$B/ucx_cpg_testcpg" -T 5 >"$TMP/out" 2>"$TMP/err"; check testcpg_time_limit_without_count_is_usage_error 2 $? "usage:" "$TMP/err"

UCX_CPG_NODEID=abc "$INFO" -c >"$TMP/out" 2>"$TMP/err"
check info_bad_nodeid_names_key_and_range 3 $? "UCX_CPG_NODEID" "$TMP/err"
grep -q "2147483647" "$TMP/err" || { echo "FAIL bad nodeid message lacks the range"; fails=$((fails + 1)); }
UCX_CPG_MAX_PROCS=5000 "$INFO" >"$TMP/out" 2>"$TMP/err"
check info_bad_max_procs_fails_init 3 $? "UCX_CPG_MAX_PROCS" "$TMP/err"
UCX_CPG_LOG_LEVEL=loud "$INFO" -c >"$TMP/out" 2>"$TMP/err"
check info_bad_log_level_names_valid_values 3 $? "trace" "$TMP/err"

UCX_CPG_NODEID=42 "$INFO" -c >"$TMP/out" 2>"$TMP/err"
check info_prints_env_value_and_origin 0 $? "UCX_CPG_NODEID = 42 *(environment)" "$TMP/out"

printf '# test config\nnodeid = 77\nlog_level = "info"\n' >"$TMP/ucx_cpg.conf"
UCX_CPG_CONFIG="$TMP/ucx_cpg.conf" "$INFO" -c >"$TMP/out" 2>"$TMP/err"
check info_reads_config_file 0 $? "UCX_CPG_NODEID = 77" "$TMP/out"
grep -q "ucx_cpg.conf:2" "$TMP/out" || { echo "FAIL config origin not shown as file:line"; fails=$((fails + 1)); }
printf 'nodeid = 77\nbogus_key = 1\n' >"$TMP/bad.conf"
UCX_CPG_CONFIG="$TMP/bad.conf" "$INFO" -c >"$TMP/out" 2>"$TMP/err"
check info_rejects_unknown_config_key 3 $? "bogus_key" "$TMP/err"

UCX_CPG_LOG_LEVEL=info UCX_CPG_LOG_FILE="$TMP/log" "$INFO" >"$TMP/out" 2>"$TMP/err"
check info_logs_to_file 0 $? "joined domain" "$TMP/log"

"$INFO" -w 5 -t 1 -l 0 >"$TMP/out" 2>"$TMP/err"
check info_wait_times_out_with_status_1 1 $? "timed out" "$TMP/err"

# ucx_cpg_testcpg, interactive, removed from its group: a group whose two
# members are both stopped is founded anew by a joiner (stall timeout 1 s);
# continued, each old member is told it was removed, prints so, sends no
# more lines, and JOIN takes it into the new group, whose founder gets its
# line. Every wait is bounded; the processes are killed at the end.
wait_for() {  # wait_for FILE PATTERN SECONDS: 0 once FILE has PATTERN
    n=0
    while [ $n -lt $(($3 * 10)) ]; do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}
removed_member_rejoins() {
    mkfifo "$TMP/fa" "$TMP/fb" "$TMP/fc" || return 1
    "$B/ucx_cpg_testcpg" rm <"$TMP/fa" >"$TMP/a.out" 2>"$TMP/a.err" &
    PA=$!
    "$B/ucx_cpg_testcpg" rm <"$TMP/fb" >"$TMP/b.out" 2>"$TMP/b.err" &
    PB=$!
    exec 3>"$TMP/fa" 4>"$TMP/fb"
    wait_for "$TMP/a.out" "CONFCHG group=rm members=\[[0-9]*/[0-9]* [0-9]*/[0-9]*\]" 20 ||
        { echo "the two members did not meet"; return 1; }
    kill -STOP "$PA" "$PB"
    "$B/ucx_cpg_testcpg" rm <"$TMP/fc" >"$TMP/c.out" 2>"$TMP/c.err" &
    PC=$!
    exec 5>"$TMP/fc"
    wait_for "$TMP/c.out" "CONFCHG group=rm members=\[[0-9]*/$PC\]" 30 ||
        { echo "the joiner did not found the group anew"; return 1; }
    kill -CONT "$PA" "$PB"
    wait_for "$TMP/a.out" "INFO removed from the group (PROCDOWN)" 20 ||
        { echo "member A was not told it was removed"; return 1; }
    wait_for "$TMP/b.out" "INFO removed from the group (PROCDOWN)" 20 ||
        { echo "member B was not told it was removed"; return 1; }
    echo lost >&3
    wait_for "$TMP/a.out" "INFO not in a group: line not sent" 10 ||
        { echo "a removed member sent a line"; return 1; }
    echo "JOIN rm" >&3
    wait_for "$TMP/c.out" "joined=\[[0-9]*/$PA:JOIN\]" 30 ||
        { echo "the removed member did not join the new group"; return 1; }
    echo back >&3
    wait_for "$TMP/c.out" "pid=$PA len=5 text=\"back\"" 20 ||
        { echo "the founder did not get the rejoined member's line"; return 1; }
    echo EXIT >&3; echo EXIT >&4; echo EXIT >&5
    exec 3>&- 4>&- 5>&-
    # a member that does not exit on EXIT is killed after 20 s (and fails)
    (sleep 20; kill "$PA" "$PB" "$PC") </dev/null >/dev/null 2>&1 &
    WD=$!
    for p in $PA $PB $PC; do
        wait "$p" || { echo "pid $p exited with status $?"; kill "$WD"; return 1; }
    done
    kill "$WD" 2>/dev/null
    ! grep -q "lost" "$TMP/c.out" || { echo "the removed member's line was delivered"; return 1; }
}
export UCX_CPG_GROUP_STALL_TIMEOUT_MS=1000
if removed_member_rejoins >"$TMP/rm.log" 2>&1; then
    echo "PASS testcpg_removed_member_stops_sending_and_rejoins"
else
    echo "FAIL testcpg_removed_member_stops_sending_and_rejoins: $(tail -1 "$TMP/rm.log")"
    for f in a b c; do echo "--- $f"; cat "$TMP/$f.out" "$TMP/$f.err" 2>/dev/null; done
    fails=$((fails + 1))
fi
for p in ${PA:-} ${PB:-} ${PC:-}; do
    kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null
done
unset UCX_CPG_GROUP_STALL_TIMEOUT_MS

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
