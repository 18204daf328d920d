#!/bin/bash
# cpg_compare.sh - the same CPG benchmark binary (contrib/bench/cpg_bench.c)
# against corosync's libcpg.so.4 and against ucx_cpg's, side by side, in one
# run and one markdown table.
#
#   contrib/bench/cpg_compare.sh [-b BUILD_DIR] [-o FILE] [-r REPS] [-l LIB] [-I CPUS]
#                                [-P] [-A] [-t SEC] [-T SEC] [-E] [-q]
#
#   -b BUILD_DIR  the ucx_cpg build (default $UCPG_BUILD_DIR, else ./build);
#                 ucx_cpg's libcpg.so.4 is taken from $UCPG_COMPAT_DIR
#                 (default BUILD_DIR/compat/.libs)
#   -o FILE       also write the report to FILE (default: stdout only)
#   -r REPS       repetitions of every run (default 3): median [min–max]
#   -l LIB        run one library only: corosync or ucx_cpg (default: both)
#   -I CPUS       run cpg_bench under taskset -c CPUS (default: not pinned;
#                 corosync itself is never pinned)
#   -P            pin each member, all its threads, to one CPU, round robin
#                 (cpg_bench -c), for both libraries, as compare.sh pins
#                 ucx_cpg_perftest's members
#   -A            every member sends in the throughput runs (cpg_bench -a):
#                 the rate is the aggregate one the slowest member receives
#   -t SEC        flood duration of the throughput runs (default 5)
#   -T SEC        time limit of every cpg_bench run (default 120)
#   -E            use the corosync that is already running (it is neither
#                 started nor stopped here); without -E a running corosync
#                 that this script did not start makes it skip corosync
#   -q            quick: -t 1, 1000 latency iterations, one repetition
#
# For 2, 4 and 8 members it runs cpg_bench -m thr at 64 and 8000 bytes and
# cpg_bench -m lat at 64 bytes with each library, the libraries interleaved
# within every repetition. Ratios: ucx_cpg / corosync for msgs/s and MB/s,
# corosync / ucx_cpg for latency and for the CPU cost per delivered message
# (the CPU time of all member processes, plus the corosync daemon's read
# from /proc for corosync, over the messages delivered in all): above 1
# means ucx_cpg is better.
#
# corosync: the daemon is needed. If the corosync package is missing it is
# installed (apt-get install -y corosync; root only, otherwise corosync is
# skipped). The system service is not used: the script writes a single-node
# configuration (knet on 127.0.0.1, nodeid 1, votequorum, state directory
# and log file in its temp directory) and starts `corosync -f -c CONF` in
# the background as root (corosync writes /var/run/corosync.pid and runs at
# SCHED_RR), waits until a CPG round trip works, and stops that process by
# its pid at the end. The corosync runs use the system's libcpg.so.4.
#
# ucx_cpg: the same binary with LD_LIBRARY_PATH=$UCPG_COMPAT_DIR:BUILD_DIR/.libs,
# a private UCX_CPG_DOMAIN per run and a private UCX_CPG_REGISTRY_DIR. The
# script checks with ldd that libcpg.so.4 really resolves into
# $UCPG_COMPAT_DIR; if there is no libcpg.so.4 there, ucx_cpg is skipped.
#
# cpg_bench is always compiled here (gcc -O2, -lcpg, against the system
# <corosync/cpg.h> if installed, else the project's include/) into the temp
# directory, so that no libtool wrapper or rpath decides the library.
#
# Exit status: 0 every requested library ran and every run produced numbers,
# 1 some run failed or a requested library was skipped, 2 usage, 3 set-up
# failure (no compiler, cannot build cpg_bench, nothing runnable).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${UCPG_BUILD_DIR:-./build}
OUT=
T=120
SECS=5
REPS=3
REPS_SET=0
LIBS="corosync ucx_cpg"
ICPUS=
MEMBER_PIN=
ALL_SEND=
USE_EXISTING=0
QUICK=0
ITERS=10000
WARM=100
MEMBERS="2 4 8"

usage() {
    sed -n '2,/^# For /p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while getopts b:o:r:l:I:PAt:T:Eqh opt; do
    case $opt in
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    r) case $OPTARG in ''|*[!0-9]*) usage ;; esac; REPS=$OPTARG; REPS_SET=1 ;;
    l) case $OPTARG in corosync|ucx_cpg) LIBS=$OPTARG ;; *) usage ;; esac ;;
    I) case $OPTARG in ''|*[!0-9,-]*) usage ;; esac; ICPUS=$OPTARG ;;
    P) MEMBER_PIN=" -c" ;;
    A) ALL_SEND=" -a" ;;
    t) case $OPTARG in ''|*[!0-9]*) usage ;; esac; SECS=$OPTARG ;;
    T) case $OPTARG in ''|*[!0-9]*) usage ;; esac; T=$OPTARG ;;
    E) USE_EXISTING=1 ;;
    q) QUICK=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
if [ "$QUICK" -eq 1 ]; then
    SECS=1 ITERS=1000 WARM=50
    [ "$REPS_SET" -eq 1 ] || REPS=1
fi
if [ "$T" -lt 2 ] || [ "$SECS" -lt 1 ] || [ "$SECS" -ge "$T" ] || [ "$REPS" -lt 1 ] ||
    [ "$REPS" -gt 99 ]; then
    usage
fi

BENCH_NAME=cpg_compare
# shellcheck source=contrib/bench/bench_lib.sh
. "$TOP/contrib/bench/bench_lib.sh"
MY_UID=$(id -u)
COROSYNC_INSTALL=1          # this script installs the corosync package if it is missing

for tool in gcc timeout ldd awk; do
    command -v $tool >/dev/null || die "$tool not found"
done
[ -z "$ICPUS" ] || command -v taskset >/dev/null || die "taskset not found (-I)"

W=$(mktemp -d "${TMPDIR:-/tmp}/cpg_compare.XXXXXX") || die "mktemp failed"
REG=$(mktemp -d /dev/shm/cpg_compare.XXXXXX 2>/dev/null) || REG=$W/registry
mkdir -p "$REG"
COROSYNC_PID=
CHILD=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [ -n "$CHILD" ]; then                  # the measuring process group
        kill -TERM -- "-$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    corosync_stop
    rm -rf "$W" "$REG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- libraries to run ------------------------------------------------------------
SKIPPED=                      # "lib: reason" lines for the report
skip() {
    local lib=$1
    shift
    say "$lib: skipped: $*"
    SKIPPED="$SKIPPED- $lib skipped: $*"$'\n'
    LIBS=$(echo "$LIBS" | tr ' ' '\n' | grep -vx "$lib" | tr '\n' ' ')
}
has_lib() { case " $LIBS " in *" $1 "*) return 0 ;; esac; return 1; }
REQUESTED=$LIBS

# --- the benchmark binary ------------------------------------------------------------
SRC=$TOP/contrib/bench/cpg_bench.c
BENCH=$W/cpg_bench
BUILD_ABS=$(cd "$BUILD" 2>/dev/null && pwd) || BUILD_ABS=
UCPG_COMPAT_DIR=${UCPG_COMPAT_DIR:-${BUILD_ABS:-$BUILD}/compat/.libs}
build_cpg_program "$BENCH" "" "$SRC" -lpthread "$UCPG_COMPAT_DIR" cpg_bench

# resolved LIB [ENV...]: the file libcpg.so.4 resolves to for cpg_bench
resolved() {
    env "$@" ldd "$BENCH" 2>/dev/null | awk '$1 == "libcpg.so.4" { print $3 }'
}

# --- ucx_cpg: is the library there? --------------------------------------------------
UCX_LDPATH=$UCPG_COMPAT_DIR${BUILD_ABS:+:$BUILD_ABS/.libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
UCX_LIB=
if has_lib ucx_cpg; then
    if [ ! -e "$UCPG_COMPAT_DIR/libcpg.so.4" ]; then
        skip ucx_cpg "no libcpg.so.4 in $UCPG_COMPAT_DIR (CPG library not built yet? set UCPG_COMPAT_DIR or -b)"
    else
        UCX_LIB=$(resolved LD_LIBRARY_PATH="$UCX_LDPATH")
        COMPAT_ABS=$(cd "$UCPG_COMPAT_DIR" && pwd)
        case $UCX_LIB in
        "$UCPG_COMPAT_DIR"/*|"$COMPAT_ABS"/*) ;;
        *) skip ucx_cpg "libcpg.so.4 resolves to '${UCX_LIB:-nothing}', not into $UCPG_COMPAT_DIR" ;;
        esac
    fi
fi

# --- corosync: package, configuration, daemon (bench_lib.sh) ------------------------
# A CPG round trip through the daemon: the bench itself, one member, ten pings.
cpg_works() {
    timeout 15 "$BENCH" -m lat -p 1 -n 10 -w 0 -T 10 >"$W/cpgcheck.out" 2>&1
}

corosync_skip() { skip corosync "$@"; }

if has_lib corosync; then
    corosync_start
fi
COROSYNC_LIB=
if has_lib corosync; then
    COROSYNC_LIB=$(resolved)
    case $COROSYNC_LIB in
    ''|"$UCPG_COMPAT_DIR"/*) skip corosync "libcpg.so.4 resolves to '${COROSYNC_LIB:-nothing}' (LD_LIBRARY_PATH points at ucx_cpg?)" ;;
    esac
fi
[ -n "${LIBS// /}" ] || die "nothing to run (see the messages above)"

# --- runners ---------------------------------------------------------------------------
PIN=()
[ -z "$ICPUS" ] || PIN=(taskset -c "$ICPUS")
FAILED=0
NRUN=0

# bench_args MODE SIZE MEMBERS: the cpg_bench arguments of one run
bench_args() {
    if [ "$1" = thr ]; then
        echo "-m thr -s $2 -p $3 -t $SECS -T $T -M$MEMBER_PIN$ALL_SEND"
    else
        echo "-m lat -s $2 -p $3 -n $ITERS -w $WARM -T $T -M$MEMBER_PIN"
    fi
}

# command_of LIB ARGS: the command line as written in the report
command_of() {
    local lib=$1
    shift
    if [ "$lib" = ucx_cpg ]; then
        echo "LD_LIBRARY_PATH=\$UCPG_COMPAT_DIR:\$BUILD/.libs UCX_CPG_DOMAIN=<private> ${PIN[*]:+${PIN[*]} }cpg_bench $*"
    else
        echo "${PIN[*]:+${PIN[*]} }cpg_bench $*"
    fi
}

# daemon_cpu_us: CPU time (user + system) corosync has used so far, in µs;
# 0 when no daemon runs (ucx_cpg has none)
daemon_cpu_us() {
    if [ -n "$COROSYNC_PID" ] && [ -r "/proc/$COROSYNC_PID/stat" ]; then
        # fields 14 and 15 after the ")" that ends the command name
        sed 's/.*) //' "/proc/$COROSYNC_PID/stat" |
            awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f\n", ($12 + $13) * 1e6 / hz }'
    else
        echo 0
    fi
}

# run_bench LIB MODE SIZE MEMBERS: sets R to cpg_bench's RESULT line, with
# cpu_us_per_delivery (members' and, for corosync, the daemon's CPU per
# delivered message) added for thr
run_bench() {
    local lib=$1 args out rc d0 d1
    args=$(bench_args "$2" "$3" "$4")
    d0=$(daemon_cpu_us)
    NRUN=$((NRUN + 1))
    out=$W/run.$NRUN
    # shellcheck disable=SC2086  # args are words
    if [ "$lib" = ucx_cpg ]; then
        env LD_LIBRARY_PATH="$UCX_LDPATH" UCX_CPG_DOMAIN="cpgcmp_$$_$NRUN" \
            UCX_CPG_REGISTRY_DIR="$REG" timeout $((T + 15)) "${PIN[@]}" "$BENCH" $args >"$out" 2>&1
    else
        timeout $((T + 15)) "${PIN[@]}" "$BENCH" $args >"$out" 2>&1
    fi
    rc=$?
    R=$(grep '^RESULT ' "$out" | tail -1)
    if [ "$lib" = corosync ]; then d1=$(daemon_cpu_us); else d0=0; d1=0; fi
    if [ "$2" = thr ] && [ -n "$R" ]; then
        R="$R cpu_us_per_delivery=$(awk -v c="$(field cpu_us "$R")" -v d=$((d1 - d0)) \
            -v n="$(field deliveries "$R")" 'BEGIN { if (n + 0 > 0) printf "%.3f", (c + d) / n; else print "nan" }')"
    fi
    if [ "$rc" -ne 0 ] || [ -z "$R" ]; then
        say "$lib: cpg_bench $args failed (exit status $rc):"
        tail -6 "$out" | sed 's/^/    /' >&2
        FAILED=1
        R="RESULT failed=1"
    fi
}

# cell LIB DIGITS VALUES...: a table cell, "skipped" or "not run" (not asked for)
cell() {
    local lib=$1
    shift
    if has_lib "$lib"; then
        med_range "$@"
    else
        case " $REQUESTED " in *" $lib "*) echo "skipped" ;; *) echo "not run" ;; esac
    fi
}

STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_BEFORE=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
TABLE=$W/table.md
{
    echo "| Test | Members | Size (B) | Metric | corosync | ucx_cpg | Ratio |"
    echo "|---|---|---|---|---|---|---|"
} >"$TABLE"

# measure MODE SIZE MEMBERS: all repetitions of one configuration, one table block
measure() {
    local mode=$1 size=$2 p=$3 rep lib key
    declare -A v=()
    for rep in $(seq "$REPS"); do
        for lib in $LIBS; do
            say "$mode $size B, $p members, $lib, repetition $rep of $REPS"
            run_bench "$lib" "$mode" "$size" "$p"
            if [ "$mode" = thr ]; then
                for key in msgs_per_s MB_per_s retries cpu_us_per_delivery; do
                    v[$lib.$key]+=" $(field $key "$R")"
                done
            else
                for key in p50_us p99_us mean_us; do
                    v[$lib.$key]+=" $(field $key "$R")"
                done
            fi
        done
    done
    # shellcheck disable=SC2086  # word splitting of the value lists is meant
    if [ "$mode" = thr ]; then
        for key in msgs_per_s MB_per_s retries cpu_us_per_delivery; do
            local name d q=—
            case $key in
            msgs_per_s) name="msgs/s (slowest receiver)"; d=0 ;;
            MB_per_s) name="MB/s (slowest receiver)"; d=2 ;;
            retries) name="TRY_AGAIN retries (sender)"; d=0 ;;
            cpu_us_per_delivery) name="CPU µs per delivered message (members + daemon)"; d=2 ;;
            esac
            case $key in
            retries) ;;
            cpu_us_per_delivery)        # lower is better: corosync / ucx_cpg
                q=$(ratio "$(stat median ${v[corosync.$key]:-})" "$(stat median ${v[ucx_cpg.$key]:-})") ;;
            *) q=$(ratio "$(stat median ${v[ucx_cpg.$key]:-})" "$(stat median ${v[corosync.$key]:-})") ;;
            esac
            echo "| thr | $p | $size | $name | $(cell corosync $d ${v[corosync.$key]:-}) | $(cell ucx_cpg $d ${v[ucx_cpg.$key]:-}) | $q |" >>"$TABLE"
        done
    else
        for key in p50_us p99_us mean_us; do
            local name=${key%_us}
            q=$(ratio "$(stat median ${v[corosync.$key]:-})" "$(stat median ${v[ucx_cpg.$key]:-})")
            echo "| lat | $p | $size | $name µs (send → own delivery) | $(cell corosync 1 ${v[corosync.$key]:-}) | $(cell ucx_cpg 1 ${v[ucx_cpg.$key]:-}) | $q |" >>"$TABLE"
        done
    fi
}

# measure_and_report: every run, then the report into $W/report.md; exit
# status 0, or 1 if a run failed or a requested library was skipped.
measure_and_report() {
    local p lib
    for p in $MEMBERS; do
        measure thr 64 "$p"
        measure thr 8000 "$p"
        measure lat 64 "$p"
    done
    for lib in $REQUESTED; do       # a requested library that could not run
        has_lib "$lib" || FAILED=1
    done
    LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
    IDLE_AFTER=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
    report >"$W/report.md"
    exit "$FAILED"
}

report() {
    echo "### cpg_bench${MEMBER_PIN:+, members pinned (-P)}: corosync libcpg vs ucx_cpg ($STARTED)"
    echo
    echo "Host: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r);" \
         "load average before / after: $LOAD_BEFORE / $LOAD_AFTER; vmstat idle % before / after:" \
         "${IDLE_BEFORE:-?} / ${IDLE_AFTER:-?}.$([ "$QUICK" -eq 1 ] && echo ' QUICK RUN (-q).')"
    echo
    if has_lib corosync; then
        echo "- corosync: $COROSYNC_HOW; libcpg.so.4 = $COROSYNC_LIB."
    fi
    if has_lib ucx_cpg; then
        echo "- ucx_cpg: libcpg.so.4 = $UCX_LIB (UCPG_COMPAT_DIR=$UCPG_COMPAT_DIR)$(env | grep '^UCX_CPG_' | grep -v '^UCX_CPG_DOMAIN=\|^UCX_CPG_REGISTRY_DIR=' | sort | sed 's/^/, /' | tr -d '\n')."
    fi
    printf '%s' "$SKIPPED"
    echo "- cpg_bench compiled by this script with $INC_HOW: \`$(echo "$CC_CMD" | sed "s|$W/||; s|$TOP/||g")\`."
    echo
    local pin_desc="no CPU pinning"
    [ -z "$MEMBER_PIN" ] || pin_desc="each member pinned to one CPU (-c)"
    [ ${#PIN[@]} -eq 0 ] || pin_desc="${PIN[*]}"
    echo "Commands (every member is a process forked by cpg_bench; $pin_desc):"
    echo
    for lib in corosync ucx_cpg; do
        has_lib "$lib" || continue
        echo "    $lib: $(command_of "$lib" "$(bench_args thr 64 '<N>')")"
        echo "    $lib: $(command_of "$lib" "$(bench_args thr 8000 '<N>')")"
        echo "    $lib: $(command_of "$lib" "$(bench_args lat 64 '<N>')")"
    done
    echo
    echo "N = $MEMBERS. $([ -n "$ALL_SEND" ] && echo 'Every member sends (-a)' || echo 'One sender (rank 0)'); thr = msgs/s and MB/s (10^6 B) at the slowest receiver,"
    echo "from its first delivery of a ${SECS} s flood to the END after the last; lat = send → own delivery of one"
    echo "message at a time (${ITERS} iterations after ${WARM} warm-up), the other members dispatching."
    echo "$REPS repetition(s), libraries interleaved; cells are median [min–max]. Ratio: ucx_cpg /"
    echo "corosync for thr, corosync / ucx_cpg for lat (above 1 = ucx_cpg better), from the medians."
    echo
    cat "$TABLE"
}

# The runs and the report are made by a child in its own process group while
# this shell only waits: a signal then always finds this shell in `wait`
# (bash 5.2 mishandles a trap that interrupts the parsing of a "$(...)": the
# script would carry on), and cleanup stops the whole group, cpg_bench included.
set -m
measure_and_report &
CHILD=$!
set +m
wait "$CHILD"
STATUS=$?
CHILD=
[ -s "$W/report.md" ] || { say "no report (measuring process ended with status $STATUS)"; exit 1; }
if [ -n "$OUT" ]; then
    tee "$OUT" <"$W/report.md"
else
    cat "$W/report.md"
fi
[ "$STATUS" -eq 0 ] || { say "some runs failed or a library was skipped (see above)"; exit 1; }
exit 0
