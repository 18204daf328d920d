#!/bin/bash
# rsm_compare.sh - RSMAPI (contrib/bench/rsm_bench.c) against UCX's own
# ucx_perftest on this machine, in one go, and one markdown table.
#
#   contrib/bench/rsm_compare.sh [-b BUILD_DIR] [-o FILE] [-r REPS] [-I CPUS] [-T SEC] [-q]
#
#   -b BUILD_DIR  the ucx_cpg build (default $UCPG_BUILD_DIR, else ./build)
#   -o FILE       also write the report to FILE (default: stdout only; the
#                 script never writes docs/ by itself)
#   -r REPS       repetitions of every run (default 3): the table gives the
#                 median and [min–max] of the repetitions; ratios use medians
#   -I CPUS       taskset CPU list of the importer (default 1, as the perftest
#                 client); e.g. 0,1 lets ucx_cpg's progress thread run beside
#                 the application thread (a diagnostic, not the B1 method)
#   -T SEC        time limit of each process (default 120)
#   -q            quick: one tenth of the iterations (a smoke test, not numbers)
#
# For sizes 8, 4096, 65536 and 1048576 bytes it runs
#   ucx_perftest ucp_put_lat  vs  rsm_bench put_lat  (latency, us)
#   ucx_perftest ucp_put_bw   vs  rsm_bench put_bw   (MiB/s)
#   ucx_perftest ucp_get      vs  rsm_bench get_bw   (MiB/s)
#   local memcpy              vs  rsm_bench map_bw   (MiB/s, same loop)
# and, without a UCX counterpart, rsm_bench get_lat, put_bw -e (explicit
# barrier mode) and putv_bw. Method as in reference/ucx-ompi.md B1: server (or
# exporter) pinned to CPU 0, client (importer) to CPU 1 with taskset (all
# threads, also ucx_cpg's progress thread); ucx_perftest also gets -c; same
# iterations and warm-up per size; every ucx_perftest pair on a fresh port;
# every exporter/importer pair in its own UCX_CPG_DOMAIN with a private
# registry directory; every process under `timeout`.
#
# rsm_bench is taken from BUILD_DIR/rsm_bench (or BUILD_DIR/contrib/bench/rsm_bench)
# if it is there and newer than
# its source and the library; otherwise it is compiled here (gcc -O2) against
# the build's convenience archive BUILD_DIR/.libs/libucpg.a.
#
# Exit status: 0 all runs produced numbers, 1 some run failed, 2 usage,
# 3 set-up failure (no build, no ucx_perftest, compile error).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${UCPG_BUILD_DIR:-./build}
OUT=
T=120
REPS=3
ICPUS=1
QUICK=0

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while getopts b:o:r:I:T:qh opt; do
    case $opt in
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    r) case $OPTARG in ''|*[!0-9]*) usage ;; esac; REPS=$OPTARG ;;
    I) case $OPTARG in ''|*[!0-9,-]*) usage ;; esac; ICPUS=$OPTARG ;;
    T) case $OPTARG in ''|*[!0-9]*) usage ;; esac; T=$OPTARG ;;
    q) QUICK=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
if [ "$T" -lt 1 ] || [ "$REPS" -lt 1 ] || [ "$REPS" -gt 99 ]; then usage; fi

BENCH_NAME=rsm_compare
# shellcheck source=contrib/bench/bench_lib.sh
. "$TOP/contrib/bench/bench_lib.sh"

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory (-b or UCPG_BUILD_DIR)"
if [ ! -f "$BUILD/config.h" ] || [ ! -f "$BUILD/.libs/libucpg.a" ]; then
    die "$BUILD has no config.h or .libs/libucpg.a: configure and make it first"
fi
for tool in ucx_perftest taskset timeout gcc; do
    command -v $tool >/dev/null || die "$tool not found"
done

W=$(mktemp -d "${TMPDIR:-/tmp}/rsm_compare.XXXXXX") || die "mktemp failed"
# The local boot's registries go to a private directory (tmpfs if possible),
# so that nothing is left in /dev/shm and no other domain can interfere.
REG=$(mktemp -d /dev/shm/rsm_compare.XXXXXX 2>/dev/null) || REG=$W/registry
mkdir -p "$REG"
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    rm -rf "$W" "$REG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- the benchmark binary -------------------------------------------------------
SRC=$TOP/contrib/bench/rsm_bench.c
BENCH=$BUILD/rsm_bench
[ -x "$BENCH" ] || BENCH=$BUILD/contrib/bench/rsm_bench
if [ -x "$BENCH" ] && [ ! "$SRC" -nt "$BENCH" ] && [ ! "$BUILD/.libs/libucpg.a" -nt "$BENCH" ]; then
    BENCH_HOW="$BENCH (from the build)"
else
    BENCH=$W/rsm_bench
    CC_CMD="gcc -O2 -I$TOP/include -I$TOP/ucx_cpg -I$BUILD -include $BUILD/config.h $SRC \
$BUILD/.libs/libucpg.a -lucp -luct -lucs -lucm -lhwloc -lpthread -o $BENCH"
    say "building rsm_bench: $CC_CMD"
    $CC_CMD || die "cannot build rsm_bench"
    BENCH_HOW="compiled by this script: gcc -O2 ... rsm_bench.c \$BUILD/.libs/libucpg.a -lucp -luct -lucs -lucm -lhwloc -lpthread"
fi

# --- runners ----------------------------------------------------------------------
PORT=$((17000 + ($$ % 500) * 20))
FAILED=0

NPAIR=0
# rsm_bench TEST SIZE ITERS WARMUP [ARGS]: sets R to its RESULT line.
rsm_pair() {
    local test=$1 size=$2 iters=$3 warmup=$4 n dom fifo epid fd segid
    shift 4
    NPAIR=$((NPAIR + 1))
    n=$NPAIR
    dom=rsmcmp_$$_$n
    fifo=$W/fifo.$n
    mkfifo "$fifo"
    UCX_CPG_DOMAIN=$dom UCX_CPG_REGISTRY_DIR=$REG \
        timeout "$T" taskset -c 0 "$BENCH" -x -s "$size" -t "$T" <"$fifo" >"$W/exp.$n" 2>&1 &
    epid=$!
    exec {fd}>"$fifo"            # the exporter runs until this is closed
    segid=
    for _ in $(seq 200); do       # 20 s
        segid=$(awk '/^READY /{ print $2 }' "$W/exp.$n")
        [ -n "$segid" ] && break
        kill -0 "$epid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -n "$segid" ]; then
        UCX_CPG_DOMAIN=$dom UCX_CPG_REGISTRY_DIR=$REG \
            timeout "$T" taskset -c "$ICPUS" "$BENCH" -m "$test" -s "$size" -n "$iters" -w "$warmup" \
            -i "$segid" -t "$T" "$@" >"$W/imp.$n" 2>&1
    else
        echo "exporter not ready" >"$W/imp.$n"
    fi
    exec {fd}>&-
    wait "$epid" 2>/dev/null
    if ! grep -q '^RESULT ' "$W/imp.$n"; then
        say "rsm_bench $test $size $* failed:"
        cat "$W/exp.$n" "$W/imp.$n" | tail -8 | sed 's/^/    /' >&2
        FAILED=1
        R="RESULT test=$test size=$size failed=1"
        return
    fi
    R=$(grep '^RESULT ' "$W/imp.$n")
}

# verdict RATIO OP LIMIT
verdict() {
    awk -v r="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (r == "—") { print "no data"; exit }
        ok = (op == "le") ? (r <= l) : (r >= l)
        printf "%s (%s %s)\n", ok ? "**met**" : "**missed**", op == "le" ? "≤" : "≥", l }'
}
SIZES="8 4096 65536 1048576"
iters_of() {
    local n w
    case $1 in
    8) n=200000; w=20000 ;;
    4096) n=100000; w=10000 ;;
    65536) n=20000; w=2000 ;;
    *) n=2000; w=200 ;;
    esac
    [ "$QUICK" -eq 1 ] && { n=$((n / 10)); w=$((w / 10)); }
    echo "$n $w"
}

STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_BEFORE=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
MAIN=$W/main.md
EXTRA=$W/extra.md
{
    echo "| Comparison | Size (B) | Metric | rsm_bench | UCX / baseline | Ratio rsm/UCX | Goal |"
    echo "|---|---|---|---|---|---|---|"
} >"$MAIN"
{
    echo "| rsm_bench test | Size (B) | avg µs/op | median µs | p99 µs | MiB/s | ops/s |"
    echo "|---|---|---|---|---|---|---|"
} >"$EXTRA"

EXTRAS="get_lat put_bw_explicit putv_bw"
for s in $SIZES; do
    read -r n w <<<"$(iters_of "$s")"
    # per (test, size), one value per repetition
    u_lat=() u_p50=() r_lat=() r_p50=() r_p99=() u_put=() r_put=() u_get=() r_get=() r_map=() r_cpy=()
    declare -A x_lat=() x_p50=() x_p99=() x_bw=() x_ops=()
    for rep in $(seq "$REPS"); do
        say "size $s: $n iterations, $w warm-up, repetition $rep of $REPS"
        ucx_pair ucp_put_lat "$s" "$n" "$w"; u_lat+=("$U_LAT"); u_p50+=("$U_P50")
        rsm_pair put_lat "$s" "$n" "$w"
        r_lat+=("$(field lat_avg_us "$R")"); r_p50+=("$(field lat_p50_us "$R")")
        r_p99+=("$(field lat_p99_us "$R")")
        ucx_pair ucp_put_bw "$s" "$n" "$w"; u_put+=("$U_BW")
        rsm_pair put_bw "$s" "$n" "$w"; r_put+=("$(field bw_MBps "$R")")
        ucx_pair ucp_get "$s" "$n" "$w"; u_get+=("$U_BW")
        rsm_pair get_bw "$s" "$n" "$w"; r_get+=("$(field bw_MBps "$R")")
        # map vs memcpy: both measured by rsm_bench, same loop, same process
        rsm_pair map_bw "$s" "$n" "$w"
        r_map+=("$(field bw_MBps "$R")"); r_cpy+=("$(field memcpy_MBps "$R")")
        # without a UCX counterpart
        for t in $EXTRAS; do
            case $t in
            put_bw_explicit) rsm_pair put_bw "$s" "$n" "$w" -e ;;
            putv_bw) [ "$s" -ge 16 ] || continue; rsm_pair putv_bw "$s" "$n" "$w" ;;
            *) rsm_pair "$t" "$s" "$n" "$w" ;;
            esac
            x_lat[$t]+=" $(field lat_avg_us "$R")"; x_p50[$t]+=" $(field lat_p50_us "$R")"
            x_p99[$t]+=" $(field lat_p99_us "$R")"; x_bw[$t]+=" $(field bw_MBps "$R")"
            x_ops[$t]+=" $(field ops_per_s "$R")"
        done
    done

    q=$(ratio "$(stat median "${r_lat[@]}")" "$(stat median "${u_lat[@]}")")
    g=; [ "$s" = 8 ] && g=$(verdict "$q" le 1.2)
    echo "| put_lat vs ucp_put_lat | $s | latency µs: avg (median, p99) | $(med_range 3 "${r_lat[@]}") ($(fmt "$(stat median "${r_p50[@]}")" 3), $(fmt "$(stat median "${r_p99[@]}")" 3)) | $(med_range 3 "${u_lat[@]}") ($(fmt "$(stat median "${u_p50[@]}")" 3)) | $q | $g |" >>"$MAIN"
    q=$(ratio "$(stat median "${r_put[@]}")" "$(stat median "${u_put[@]}")")
    g=; [ "$s" = 1048576 ] && g=$(verdict "$q" ge 0.9)
    echo "| put_bw vs ucp_put_bw | $s | MiB/s | $(med_range 1 "${r_put[@]}") | $(med_range 1 "${u_put[@]}") | $q | $g |" >>"$MAIN"
    q=$(ratio "$(stat median "${r_get[@]}")" "$(stat median "${u_get[@]}")")
    g=; [ "$s" = 1048576 ] && g=$(verdict "$q" ge 0.9)
    echo "| get_bw vs ucp_get | $s | MiB/s | $(med_range 1 "${r_get[@]}") | $(med_range 1 "${u_get[@]}") | $q | $g |" >>"$MAIN"
    q=$(ratio "$(stat median "${r_map[@]}")" "$(stat median "${r_cpy[@]}")")
    echo "| map_bw vs memcpy | $s | MiB/s | $(med_range 1 "${r_map[@]}") | $(med_range 1 "${r_cpy[@]}") | $q | $(verdict "$q" ge 0.9) |" >>"$MAIN"
    for t in $EXTRAS; do
        [ -n "${x_lat[$t]:-}" ] || continue
        # shellcheck disable=SC2086  # word splitting of the value lists is meant
        echo "| ${t/put_bw_explicit/put_bw -e (explicit)} | $s | $(fmt "$(stat median ${x_lat[$t]})" 3) | $(fmt "$(stat median ${x_p50[$t]})" 3) | $(fmt "$(stat median ${x_p99[$t]})" 3) | $(fmt "$(stat median ${x_bw[$t]})" 1) | $(fmt "$(stat median ${x_ops[$t]})" 0) |" >>"$EXTRA"
    done
    unset x_lat x_p50 x_p99 x_bw x_ops
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_AFTER=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
BUILD_CONF=$( (cd "$BUILD" && ./config.status --config 2>/dev/null) || echo '?')
report() {
    echo "### rsm_bench vs ucx_perftest ($STARTED)"
    echo
    echo "Host: $(nproc) CPUs, $(uname -r), $(ucx_info -v 2>/dev/null | awk '/Version/ { print "UCX " $3 }');" \
         "build $BUILD (configure ${BUILD_CONF:-default}); rsm_bench $BENCH_HOW."
    echo "Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; vmstat idle % before / after:" \
         "${IDLE_BEFORE:-?} / ${IDLE_AFTER:-?}.$([ "$QUICK" -eq 1 ] && echo ' QUICK RUN (-q): one tenth of the iterations.')"
    echo
    echo "Server/exporter on CPU 0, client on CPU 1, importer on CPU(s) $ICPUS (taskset). UCX latency = ucx_perftest"
    echo "\"average\" (half round trip for ucp_put_lat), median in parentheses; rsm latency = one"
    echo "synchronous rsm_memseg_import_put (put + flush) incl. one clock read. MiB/s = 2^20 B/s."
    echo "Ratio = rsm / UCX (latency: lower is better; bandwidth: higher is better). $REPS repetition(s)"
    echo "of every run, interleaved; numbers are the median [min–max] of the repetitions, ratios"
    echo "and goals use the medians."
    echo
    cat "$MAIN"
    echo
    echo "rsm_bench only (implicit barrier mode unless \"explicit\"; bandwidth tests time the loop, so no"
    echo "per-operation median; every number is the median of the repetitions):"
    echo
    cat "$EXTRA"
}
if [ -n "$OUT" ]; then
    report | tee "$OUT"
else
    report
fi
[ "$FAILED" -eq 0 ] || { say "some runs failed (see above)"; exit 1; }
exit 0
