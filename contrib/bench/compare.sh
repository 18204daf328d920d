#!/bin/bash
# compare.sh - ucx_cpg_perftest next to ucx_perftest and next to corosync, in
# one go: one markdown table with the ratios, a CSV of every number, and
# three PNG plots (gnuplot).
#
#   contrib/bench/compare.sh [-b BUILD_DIR] [-o DIR] [-r REPS] [-T SEC] [-E] [-q]
#
#   -b BUILD_DIR  the ucx_cpg build (default $UCPG_BUILD_DIR, else ./build):
#                 BUILD_DIR/ucx_cpg_perftest, BUILD_DIR/compat/.libs/libcpg.so.4;
#                 use a release build (configure without --enable-debug)
#   -o DIR        output directory (default ./compare-out): report.md,
#                 results.csv, latency_vs_size.png, bandwidth_vs_size.png,
#                 throughput_vs_group.png and plots.gp (re-draws them)
#   -r REPS       repetitions of every run (default 1); cells are the median
#                 and [min–max] of the repetitions, ratios use the medians
#   -T SEC        time limit of every process (default 180)
#   -E            corosync: use the one already running (not started or stopped)
#   -q            quick: one tenth of the iterations (a smoke test, not numbers)
#
# It runs, with the same pinning (server on CPU 0, client on CPU 1, both
# with taskset and -c; group members round robin on CPUs 0,1 with -c 0,1)
# and the same sizes (8, 4096, 65536, 1048576 bytes):
#   A  ucx_perftest ucp_put_lat / ucp_get / ucp_put_bw / ucp_get
#      against ucx_cpg_perftest rsm_put_lat / rsm_get_lat / rsm_put_bw / rsm_get_bw
#      (server and client, the same iterations and warm-up on both sides)
#   B  ucx_perftest ucp_am_lat / ucp_am_bw against ucx_cpg_perftest
#      cpg_mcast_lat / cpg_mcast_bw (a two-member group: server and client;
#      the floods with ucx_perftest's iterations and warm-up, the CPG
#      ping-pongs with fewer)
#   C  corosync against ucx_cpg with the same CPG benchmark binary: this
#      script compiles ucx_cpg_perftest's CPG tests (-DPT_CPG_ONLY) against
#      <corosync/cpg.h> and -lcpg once, and runs it in local mode on
#      corosync's libcpg.so.4 and on ucx_cpg's (LD_LIBRARY_PATH):
#      cpg_mcast_lat and cpg_mcast_bw with 2 members at 8, 4096, 65536 bytes
#      (corosync's IPC takes at most about 1 MB), cpg_mcast_rate at 64 bytes
#      with 2, 4 and 8 members.
# corosync is Debian's daemon, started here as a private single node on
# 127.0.0.1 (generated configuration, state in the temp directory) and
# stopped by its pid; it needs root. This script installs nothing: without
# the corosync package part C runs on ucx_cpg only and says how to get it
# (apt-get install corosync); without gnuplot (Debian package gnuplot-nox)
# the script stops before measuring anything.
#
# Every ucx_cpg run has its own UCX_CPG_DOMAIN and a private registry
# directory; every process runs under timeout(1). Numbers: the "overall"
# columns of the -f line of both tools (latency in us, MiB/s, msg/s);
# ratio = ucx_cpg / reference (latency: below 1 is better; bandwidth and
# rate: above 1 is better).
#
# Exit status: 0 every run produced numbers (corosync may have been
# skipped: see the report), 1 some run failed, 2 usage, 3 set-up failure
# (no gnuplot, no build, no ucx_perftest, compile error).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${UCPG_BUILD_DIR:-./build}
OUT=compare-out
T=180
REPS=1
USE_EXISTING=0
QUICK=0

usage() {
    sed -n '2,/^# It runs/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

while getopts b:o:r:T:Eqh opt; do
    case $opt in
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    r) case $OPTARG in ''|*[!0-9]*) usage ;; esac; REPS=$OPTARG ;;
    T) case $OPTARG in ''|*[!0-9]*) usage ;; esac; T=$OPTARG ;;
    E) USE_EXISTING=1 ;;
    q) QUICK=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
if [ "$T" -lt 10 ] || [ "$REPS" -lt 1 ] || [ "$REPS" -gt 99 ]; then usage; fi

BENCH_NAME=compare
# shellcheck source=contrib/bench/bench_lib.sh
. "$TOP/contrib/bench/bench_lib.sh"
MY_UID=$(id -u)
COROSYNC_INSTALL=0          # never install anything

# --- what is needed -------------------------------------------------------------------
if ! command -v gnuplot >/dev/null; then
    die "gnuplot not found: the plots need it. Install Debian's package gnuplot-nox
    (apt-get install gnuplot-nox); this script installs nothing. Nothing was measured."
fi
for tool in ucx_perftest taskset timeout gcc awk ldd; do
    command -v $tool >/dev/null || die "$tool not found"
done
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory (-b or UCPG_BUILD_DIR)"
PTEST=$BUILD/ucx_cpg_perftest
[ -x "$PTEST" ] || die "$PTEST not found: build ucx_cpg first (make)"
COMPAT=$BUILD/compat/.libs
[ -e "$COMPAT/libcpg.so.4" ] || die "$COMPAT/libcpg.so.4 not found: build ucx_cpg first (make)"
mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd)
if gnuplot -e "set terminal pngcairo" >/dev/null 2>&1; then
    TERM_PNG="pngcairo size 960,620 font 'sans,10'"
else
    TERM_PNG="png size 960,620"
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/compare.XXXXXX") || die "mktemp failed"
REG=$(mktemp -d /dev/shm/compare.XXXXXX 2>/dev/null) || REG=$W/registry
mkdir -p "$REG"
CHILD=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [ -n "$CHILD" ]; then                   # the measuring process group
        kill -TERM -- "-$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
    fi
    COROSYNC_PID=$(cat "$W/corosync.pid" 2>/dev/null)
    corosync_stop
    rm -rf "$W" "$REG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the CPG-only benchmark binary (the same for corosync and ucx_cpg) --------------------
PCPG=$W/ucx_cpg_perftest_cpg
PSRC="options measure report proto control cpg_tests local main"
SRCS=
for f in $PSRC; do SRCS="$SRCS $TOP/contrib/perftest/$f.c"; done
build_cpg_program "$PCPG" "-DPT_CPG_ONLY -I$TOP/contrib/perftest" "${SRCS# }" -lm "$COMPAT" \
    "the CPG benchmark"
UCX_LDPATH=$COMPAT:$BUILD/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
UCX_LIB=$(env LD_LIBRARY_PATH="$UCX_LDPATH" ldd "$PCPG" | awk '$1 == "libcpg.so.4" { print $3 }')
case $UCX_LIB in
"$COMPAT"/*) ;;
*) die "with LD_LIBRARY_PATH=$UCX_LDPATH the benchmark resolves libcpg.so.4 to '$UCX_LIB', not ucx_cpg's" ;;
esac

# --- iterations -----------------------------------------------------------------------------
SIZES="8 4096 65536 1048576"
CPG_SIZES="8 4096 65536"
GROUP_SIZES="2 4 8"
RATE_SIZE=64
scale() { if [ "$QUICK" -eq 1 ]; then echo $(($1 / 10 > 0 ? $1 / 10 : 1)); else echo "$1"; fi; }
# as reference/ucx-ompi.md B1 (ucx_perftest and the RSM tests)
iters_of() {
    case $1 in
    8) echo "$(scale 200000) $(scale 20000)" ;;
    4096) echo "$(scale 100000) $(scale 10000)" ;;
    65536) echo "$(scale 20000) $(scale 2000)" ;;
    *) echo "$(scale 2000) $(scale 200)" ;;
    esac
}
# CPG round trips and floods cost microseconds to milliseconds a message
cpg_lat_iters_of() {
    case $1 in
    8|4096) echo "$(scale 5000) $(scale 200)" ;;
    65536) echo "$(scale 2000) $(scale 100)" ;;
    *) echo "$(scale 500) $(scale 20)" ;;
    esac
}
# C's floods, run with corosync too (a few thousand 4 KiB or 64 KiB messages
# a second): fewer than ucx_perftest's (iters_of, which B's floods use), and
# 1 MiB is not in C.
cpg_bw_iters_of() {
    case $1 in
    8) echo "$(scale 50000) $(scale 1000)" ;;
    4096) echo "$(scale 20000) $(scale 500)" ;;
    65536) echo "$(scale 5000) $(scale 500)" ;;
    *) echo "$(scale 2000) $(scale 200)" ;;
    esac
}
RATE_ITERS=$(scale 20000)            # per sender
RATE_WARM=$(scale 500)

# --- runners ------------------------------------------------------------------------------------
PORT=$((17000 + ($$ % 500) * 20))
FAILED=0
NRUN=0

# The eight numbers of a -f line: sets P_P50 P_LAT P_OLAT P_BW P_MR (nan if none).
parse_final() {
    local line
    line=$(awk 'NF == 8 && $1 ~ /^[0-9]+$/ { l = $0 } END { print l }' "$1")
    if [ -z "$line" ]; then
        P_P50=nan P_LAT=nan P_OLAT=nan P_BW=nan P_MR=nan
        return 1
    fi
    # shellcheck disable=SC2034  # P_P50, P_LAT: parsed for completeness
    read -r _ P_P50 P_LAT P_OLAT _ P_BW _ P_MR <<<"$line"
}

# ucx_cpg_perftest server + client, pinned like ucx_pair.
ucpg_pair() {
    local test=$1 size=$2 iters=$3 warmup=$4 n sport spid dom
    NRUN=$((NRUN + 1))
    n=$NRUN
    dom=compare_$$_$n
    UCX_CPG_DOMAIN=$dom UCX_CPG_REGISTRY_DIR=$REG timeout "$T" taskset -c 0 "$PTEST" -p 0 -c 0 \
        -T "$T" >"$W/psrv.$n" 2>&1 &
    spid=$!
    sport=
    for _ in $(seq 100); do
        sport=$(sed -n 's/^Waiting for connection on 127\.0\.0\.1:\([0-9]*\)\.\.\.$/\1/p' "$W/psrv.$n")
        [ -n "$sport" ] && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$sport" ]; then
        UCX_CPG_DOMAIN=$dom UCX_CPG_REGISTRY_DIR=$REG timeout "$T" taskset -c 1 "$PTEST" localhost \
            -p "$sport" -t "$test" -s "$size" -n "$iters" -w "$warmup" -c 1 -f -T "$T" \
            >"$W/pcli.$n" 2>&1
    else
        echo "the server did not start" >"$W/pcli.$n"
        kill "$spid" 2>/dev/null
    fi
    wait "$spid" 2>/dev/null
    if ! parse_final "$W/pcli.$n"; then
        say "ucx_cpg_perftest $test $size failed:"
        cat "$W/psrv.$n" "$W/pcli.$n" | tail -6 | sed 's/^/    /' >&2
        FAILED=1
    fi
}

# The CPG-only binary in local mode on LIB (corosync or ucx_cpg).
cpg_local() {
    local lib=$1 test=$2 size=$3 members=$4 iters=$5 warmup=$6 n
    NRUN=$((NRUN + 1))
    n=$NRUN
    if [ "$lib" = ucx_cpg ]; then
        env LD_LIBRARY_PATH="$UCX_LDPATH" UCX_CPG_DOMAIN="compare_$$_$n" UCX_CPG_REGISTRY_DIR="$REG" \
            timeout "$T" "$PCPG" -N "$members" -t "$test" -s "$size" -n "$iters" -w "$warmup" \
            -c 0,1 -f -T "$T" >"$W/local.$n" 2>&1
    else
        timeout "$T" "$PCPG" -N "$members" -t "$test" -s "$size" -n "$iters" -w "$warmup" \
            -c 0,1 -f -T "$T" >"$W/local.$n" 2>&1
    fi
    if ! parse_final "$W/local.$n"; then
        say "$lib: $test $size B, $members members failed:"
        tail -6 "$W/local.$n" | sed 's/^/    /' >&2
        FAILED=1
    fi
}

# record SECTION COMPARISON SIZE MEMBERS KIND REF_NAME UCX_NAME SIDE VALUE: one
# number into $RAW (tab-separated; SIDE is ref or ucx; the metric follows KIND)
RAW=$W/raw.tsv
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' - "$1" "$2" "$3" "$4" \
        "$(metric_of "$5")" "$5" "$6" "$7" "$8" "$9" >>"$RAW"
}

# pick lat|bw|rate: the number of the last parse
pick() {
    case $1 in
    lat) echo "$P_OLAT" ;;
    bw) echo "$P_BW" ;;
    *) echo "$P_MR" ;;
    esac
}
upick() {
    case $1 in
    lat) echo "$U_OLAT" ;;
    bw) echo "$U_BW" ;;
    *) echo "$U_MR" ;;
    esac
}
metric_of() {
    case $1 in
    lat) echo "latency µs" ;;
    bw) echo "bandwidth MiB/s" ;;
    *) echo "msgs/s" ;;
    esac
}

# --- the measurements (in a child process group, see cpg_compare.sh) -----------------------------
COROSYNC_SKIPPED=
corosync_skip() {
    COROSYNC_SKIPPED=$*
    say "corosync part skipped: $*"
}
cpg_works() {
    timeout 15 "$PCPG" -N 1 -t cpg_mcast_bw -n 10 -w 0 -T 10 -f >"$W/cpgcheck.out" 2>&1
}

measure() {
    local rep s n w kind ucp ours lib p side pair
    for rep in $(seq "$REPS"); do
        say "repetition $rep of $REPS"
        # A: RSM against UCP (RMA)
        for s in $SIZES; do
            read -r n w <<<"$(iters_of "$s")"
            for pair in "ucp_put_lat rsm_put_lat lat" "ucp_get rsm_get_lat lat" \
                        "ucp_put_bw rsm_put_bw bw" "ucp_get rsm_get_bw bw"; do
                read -r ucp ours kind <<<"$pair"
                say "A: $ucp vs $ours, $s B ($n iterations)"
                ucx_pair "$ucp" "$s" "$n" "$w"
                ucpg_pair "$ours" "$s" "$n" "$w"
                record A "$ucp vs $ours" "$s" 2 "$kind" "ucx_perftest $ucp" "ucx_cpg $ours" \
                    ref "$(upick "$kind")"
                record A "$ucp vs $ours" "$s" 2 "$kind" "ucx_perftest $ucp" "ucx_cpg $ours" \
                    ucx "$(pick "$kind")"
            done
        done
        # B: UCP active messages against CPG, two processes
        for s in $SIZES; do
            for pair in "ucp_am_lat cpg_mcast_lat lat" "ucp_am_bw cpg_mcast_bw bw"; do
                read -r ucp ours kind <<<"$pair"
                read -r n w <<<"$(iters_of "$s")"
                say "B: $ucp vs $ours, $s B"
                ucx_pair "$ucp" "$s" "$n" "$w"
                # The flood as ucx_perftest's (n and w as read above): with
                # 500 messages of warm-up instead of 2 000, a 64 KiB CPG
                # flood measured its start (2.6 GB/s) instead of its steady
                # state (6.3-6.9 GB/s).
                if [ "$kind" = lat ]; then
                    read -r n w <<<"$(cpg_lat_iters_of "$s")"
                fi
                ucpg_pair "$ours" "$s" "$n" "$w"
                record B "$ucp vs $ours" "$s" 2 "$kind" "ucx_perftest $ucp" \
                    "ucx_cpg $ours (pair)" ref "$(upick "$kind")"
                record B "$ucp vs $ours" "$s" 2 "$kind" "ucx_perftest $ucp" \
                    "ucx_cpg $ours (pair)" ucx "$(pick "$kind")"
            done
        done
        # C: corosync against ucx_cpg, the same binary
        if [ "$rep" -eq 1 ]; then
            corosync_start
            echo "$COROSYNC_PID" >"$W/corosync.pid"
            echo "$COROSYNC_HOW" >"$W/corosync.how"
            echo "$COROSYNC_SKIPPED" >"$W/corosync.skipped"
        fi
        for lib in corosync ucx_cpg; do
            if [ "$lib" = corosync ] && [ -n "$COROSYNC_SKIPPED" ]; then
                continue
            fi
            side=ucx
            [ "$lib" = corosync ] && side=ref
            for s in $CPG_SIZES; do
                read -r n w <<<"$(cpg_lat_iters_of "$s")"
                say "C: $lib cpg_mcast_lat, $s B, 2 members"
                cpg_local "$lib" cpg_mcast_lat "$s" 2 "$n" "$w"
                record C "corosync vs ucx_cpg: cpg_mcast_lat" "$s" 2 lat \
                    "corosync cpg_mcast_lat" "ucx_cpg cpg_mcast_lat (local)" $side "$(pick lat)"
                read -r n w <<<"$(cpg_bw_iters_of "$s")"
                say "C: $lib cpg_mcast_bw, $s B, 2 members"
                cpg_local "$lib" cpg_mcast_bw "$s" 2 "$n" "$w"
                record C "corosync vs ucx_cpg: cpg_mcast_bw" "$s" 2 bw \
                    "corosync cpg_mcast_bw" "ucx_cpg cpg_mcast_bw (local)" $side "$(pick bw)"
            done
            for p in $GROUP_SIZES; do
                say "C: $lib cpg_mcast_rate, $RATE_SIZE B, $p members"
                cpg_local "$lib" cpg_mcast_rate "$RATE_SIZE" "$p" "$RATE_ITERS" "$RATE_WARM"
                record C "corosync vs ucx_cpg: cpg_mcast_rate (every member sends)" \
                    "$RATE_SIZE" "$p" rate "corosync cpg_mcast_rate" "ucx_cpg cpg_mcast_rate" \
                    $side "$(pick rate)"
            done
        done
    done
    corosync_stop
    rm -f "$W/corosync.pid"
    exit "$FAILED"
}

STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_BEFORE=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
: >"$RAW"
set -m
measure &
CHILD=$!
set +m
wait "$CHILD"
STATUS=$?
CHILD=
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_AFTER=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
COROSYNC_HOW=$(cat "$W/corosync.how" 2>/dev/null)
COROSYNC_SKIPPED=$(cat "$W/corosync.skipped" 2>/dev/null)
[ -s "$RAW" ] || { say "nothing was measured (status $STATUS)"; exit 1; }

# --- the table, the CSV and the plot data ---------------------------------------------------------
TABLE=$W/table.md
CSV=$OUT/results.csv
rm -f "$W"/plot_*.dat
{
    echo "| Comparison | Size (B) | Members | Metric | Reference | Reference value | ucx_cpg | Ratio ucx_cpg / ref |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$TABLE"
echo "section,comparison,size,members,metric,reference,reference_value,ucx_cpg,ucx_cpg_value,ratio" >"$CSV"
# one row per (section, comparison, size, members), in the order measured
awk -F'\t' '!seen[$2 FS $3 FS $4 FS $5]++ { print $2 "\t" $3 "\t" $4 "\t" $5 }' "$RAW" >"$W/keys.tsv"
while IFS=$'\t' read -r sec cmp size members; do
    rows=$(awk -F'\t' -v s="$sec" -v c="$cmp" -v z="$size" -v m="$members" \
        '$2 == s && $3 == c && $4 == z && $5 == m' "$RAW")
    metric=$(echo "$rows" | head -1 | cut -f6)
    kind=$(echo "$rows" | head -1 | cut -f7)
    refname=$(echo "$rows" | head -1 | cut -f8)
    ucxname=$(echo "$rows" | head -1 | cut -f9)
    # shellcheck disable=SC2046  # word splitting of the value lists is meant
    refv=$(echo "$rows" | awk -F'\t' '$10 == "ref" { print $11 }' | tr '\n' ' ')
    ucxv=$(echo "$rows" | awk -F'\t' '$10 == "ucx" { print $11 }' | tr '\n' ' ')
    d=3                                   # latency: ns resolution
    [ "$kind" = bw ] && d=2
    [ "$kind" = rate ] && d=0
    # shellcheck disable=SC2086
    refm=$(stat median $refv)
    # shellcheck disable=SC2086
    ucxm=$(stat median $ucxv)
    q=$(ratio "$ucxm" "$refm")
    if [ -z "${refv// /}" ]; then
        refcell="skipped"
    else
        # shellcheck disable=SC2086
        refcell=$(med_range $d $refv)
    fi
    # shellcheck disable=SC2086
    echo "| $cmp | $size | $members | $metric | $refname | $refcell | $(med_range $d $ucxv) | $q |" >>"$TABLE"
    echo "$sec,\"$cmp\",$size,$members,$metric,\"$refname\",$refm,\"$ucxname\",$ucxm,$q" >>"$CSV"
    x=$size
    [ "$kind" = rate ] && x=$members
    # plot series: one file per (kind, name)
    for side in ref ucx; do
        if [ $side = ref ]; then name=$refname; v=$refm; else name=$ucxname; v=$ucxm; fi
        [ "$v" = nan ] && continue
        f="$W/plot_${kind}_$(echo "$name" | tr -c 'A-Za-z0-9_\n' '_').dat"
        [ -f "$f" ] || printf '# %s\t%s\n' "$side" "$name" >"$f"
        echo "$x $v" >>"$f"
    done
done <"$W/keys.tsv"

# --- plots ------------------------------------------------------------------------------------------
PLOTS=$OUT/plots.gp
plot_block() {   # plot_block KIND OUTPUT TITLE XLABEL YLABEL LOGX
    local kind=$1 png=$2 title=$3 xlabel=$4 ylabel=$5 logx=$6 f side name sep=""
    echo "set output '$OUT/$png'"
    echo "set title '$title' noenhanced"
    echo "set xlabel '$xlabel'"
    echo "set ylabel '$ylabel' noenhanced"
    if [ "$logx" = 1 ]; then
        echo "set logscale x 2"
        echo "set xtics ('8' 8, '64' 64, '512' 512, '4K' 4096, '32K' 32768, '256K' 262144, '1M' 1048576)"
    else
        echo "unset logscale x"
        echo "set format x '%g'"
        echo "set xtics (${GROUP_SIZES// /, })"
    fi
    echo "set logscale y 10"
    echo "set format y '%g'"
    printf "plot "
    for f in "$W"/plot_"${kind}"_*.dat; do
        [ -f "$f" ] || continue
        side=$(head -1 "$f" | cut -f1 | tr -d '# ')
        name=$(head -1 "$f" | cut -f2)
        cp "$f" "$OUT/$(basename "$f")"
        printf "%s'%s' using 1:2 with linespoints lw 2 pt 7 %s title '%s' noenhanced" "$sep" \
            "$OUT/$(basename "$f")" "$([ "$side" = ref ] && echo 'dt 2' || echo 'dt 1')" "$name"
        sep=", "
    done
    echo
    echo "unset xtics; set xtics"
}
{
    echo "# written by contrib/bench/compare.sh ($STARTED); re-draw with: gnuplot $PLOTS"
    echo "set terminal $TERM_PNG"
    echo "set grid"
    echo "set key outside right top"
    plot_block lat latency_vs_size.png "Latency against message size (lower is better)" \
        "message size (bytes)" "latency (us), log scale" 1
    plot_block bw bandwidth_vs_size.png "Bandwidth against message size (higher is better)" \
        "message size (bytes)" "bandwidth (MiB/s), log scale" 1
    plot_block rate throughput_vs_group.png \
        "CPG throughput against group size, $RATE_SIZE-byte messages, every member sends" \
        "members" "messages/s at the slowest member, log scale" 0
} >"$PLOTS"
if ! gnuplot "$PLOTS" 2>"$W/gnuplot.err"; then
    cat "$W/gnuplot.err" >&2
    say "gnuplot failed (script: $PLOTS)"
    FAILED=1
fi

# --- the report ---------------------------------------------------------------------------------------
BUILD_CONF=$( (cd "$BUILD" && ./config.status --config 2>/dev/null) || echo '?')
{
    echo "### ucx_cpg_perftest vs ucx_perftest and corosync ($STARTED)"
    echo
    echo "Host: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)," \
         "$(ucx_info -v 2>/dev/null | awk '/Version/ { print "UCX " $3 }'); build $BUILD (configure ${BUILD_CONF:-default})."
    echo "Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; vmstat idle % before / after:" \
         "${IDLE_BEFORE:-?} / ${IDLE_AFTER:-?}. $REPS repetition(s).$([ "$QUICK" -eq 1 ] && echo ' QUICK RUN (-q): one tenth of the iterations.')"
    echo
    echo "- A, B: server \`taskset -c 0 ... -c 0\`, client \`taskset -c 1 ... -c 1\`, a fresh port and a private"
    echo "  UCX_CPG_DOMAIN per pair; the same size, iterations and warm-up for both tools in A and for"
    echo "  the floods of B (B's CPG ping-pongs run fewer, see contrib/bench/compare.sh)."
    if [ -n "$COROSYNC_SKIPPED" ]; then
        echo "- C: corosync **skipped**: $COROSYNC_SKIPPED. ucx_cpg ran alone."
    else
        echo "- C: corosync: $COROSYNC_HOW; libcpg.so.4 = $(ldd "$PCPG" | awk '$1 == "libcpg.so.4" { print $3 }')."
    fi
    echo "- C: ucx_cpg: libcpg.so.4 = $UCX_LIB. The benchmark was compiled once with $INC_HOW:"
    echo "  \`$(echo "$CC_CMD" | sed "s|$W/||; s|$TOP/||g")\`; local mode, members on CPUs 0,1 (-c 0,1)."
    echo "- Numbers: the \"overall\" columns of both tools' -f line (latency: half a round trip for the"
    echo "  *_lat ping-pongs, time per get for ucp_get / rsm_get_lat; MiB/s; msgs/s at the slowest member)."
    echo "  Ratio = ucx_cpg / reference: latency below 1 and bandwidth or rate above 1 favour ucx_cpg."
    echo
    cat "$TABLE"
    echo
    echo "Plots: latency_vs_size.png, bandwidth_vs_size.png, throughput_vs_group.png (dashed: reference)."
} >"$OUT/report.md"
cat "$OUT/report.md"
say "report, CSV and plots in $OUT"
if [ "$STATUS" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
    say "some runs failed (see above)"
    exit 1
fi
exit 0
