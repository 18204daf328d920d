#!/bin/sh
# test_tools.sh - the command-line contract of ucx_cpg_info, ucx_cpg_demo and
# ucx_cpg_testcpg:
# usage errors exit 2 with a usage message, bad configuration exits 3 with a
# message naming the variable and its valid range, -c prints the effective
# configuration with each value's origin, and a config file is honoured.
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

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
