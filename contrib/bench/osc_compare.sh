#!/bin/bash
# osc_compare.sh - Open MPI one-sided components on this host in one run:
# osc/rsm (ours) against osc/ucx, and osc/rdma (Open MPI's default here),
# measured by contrib/bench/osc_bench.c, one markdown table.
#
#   contrib/bench/osc_compare.sh [-b BUILD_DIR] [-o FILE] [-r REPS] [-n ITERS]
#                                [-s SIZES] [-T SEC] [-x] [-q]
#
#   -b BUILD_DIR  the ucx_cpg build holding ompi_mca/osc_rsm/.libs/mca_osc_rsm.so
#                 (default $UCPG_BUILD_DIR, else ./build)
#   -o FILE       also write the report to FILE (default: stdout only)
#   -r REPS       repetitions of every run (default 3), interleaved: the table
#                 gives the median and [min–max] over them; ratios use medians
#   -n ITERS      timed operations per measurement (default: osc_bench's,
#                 by size)
#   -s SIZES      put/get sizes, osc_bench -s syntax (default 8,4K,64K,1M)
#   -T SEC        time limit of each mpirun (default 300)
#   -x            leave out the osc/rdma column
#   -q            quick: one tenth of the default iterations (smoke test)
#
# Every repetition runs osc_bench once per component, in a rotating order
# (rsm ucx rdma, ucx rdma rsm, ...), each run one mpirun of 2 ranks (rank 0
# origin, rank 1 target) bound one per core (--map-by core --bind-to core:
# CPUs 0 and 1), under `timeout`, in its own UCX_CPG_DOMAIN and private
# registry directory, with the component path set to a directory holding
# only the built mca_osc_rsm.so (a symlink) plus Open MPI's own component
# directory, and with osc_bench -e COMP, so a run served by another
# component than asked fails. osc/rdma runs with --mca btl self,vader and
# without cas_lat: MPI_Compare_and_swap crashes btl/vader in Open MPI 4.1.x
# (open-mpi/ompi#11349, #7967).
#
# osc_bench is compiled here with mpicc -O2 unless BUILD_DIR/contrib/bench/osc_bench
# is newer than its source.
#
# Exit status: 0 all runs produced all numbers, 1 some run failed, 2 usage,
# 3 set-up failure (no build, no mpirun, compile error).
set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${UCPG_BUILD_DIR:-./build}
OUT=
T=300
REPS=3
ITERS=
SIZES=8,4K,64K,1M
RDMA=1
QUICK=0

usage() {
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

while getopts b:o:r:n:s:T:xqh opt; do
    case $opt in
    b) BUILD=$OPTARG ;;
    o) OUT=$OPTARG ;;
    r) case $OPTARG in ''|*[!0-9]*) usage ;; esac; REPS=$OPTARG ;;
    n) case $OPTARG in ''|*[!0-9]*) usage ;; esac; ITERS=$OPTARG ;;
    s) case $OPTARG in ''|*[!0-9kKmM,]*) usage ;; esac; SIZES=$OPTARG ;;
    T) case $OPTARG in ''|*[!0-9]*) usage ;; esac; T=$OPTARG ;;
    x) RDMA=0 ;;
    q) QUICK=1 ;;
    *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage
if [ "$T" -lt 1 ] || [ "$REPS" -lt 1 ] || [ "$REPS" -gt 99 ]; then usage; fi
if [ -n "$ITERS" ] && [ "$ITERS" -lt 1 ]; then usage; fi

BENCH_NAME=osc_compare
# shellcheck source=contrib/bench/bench_lib.sh
. "$TOP/contrib/bench/bench_lib.sh"

BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || die "no build directory (-b or UCPG_BUILD_DIR)"
SO=$BUILD/ompi_mca/osc_rsm/.libs/mca_osc_rsm.so
[ -f "$SO" ] || die "$SO not found: configure (with Open MPI's headers) and make $BUILD first"
for tool in mpicc mpirun ompi_info timeout; do
    command -v $tool >/dev/null || die "$tool not found"
done
SYSDIR=$(ompi_info --parsable --path pkglibdir | sed -n 's/^path:pkglibdir://p')
[ -d "$SYSDIR" ] || die "cannot find Open MPI's component directory (got '$SYSDIR')"

W=$(mktemp -d "${TMPDIR:-/tmp}/osc_compare.XXXXXX") || die "mktemp failed"
REG=$(mktemp -d /dev/shm/osc_compare.XXXXXX 2>/dev/null) || REG=$W/registry
mkdir -p "$REG" "$W/comp"
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done
    rm -rf "$W" "$REG"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# A directory holding only the component (libtool's .libs also holds
# mca_osc_rsm_la-*.o, which the loader would try to open), then Open MPI's.
ln -s "$SO" "$W/comp/mca_osc_rsm.so"
CPATH_="$W/comp:$SYSDIR"

# --- the benchmark binary -------------------------------------------------------
SRC=$TOP/contrib/bench/osc_bench.c
BENCH=$BUILD/contrib/bench/osc_bench
if [ -x "$BENCH" ] && [ ! "$SRC" -nt "$BENCH" ]; then
    BENCH_HOW="$BENCH (from the build)"
else
    BENCH=$W/osc_bench
    say "building osc_bench: mpicc -O2 $SRC -o $BENCH -lm"
    mpicc -O2 "$SRC" -o "$BENCH" -lm || die "cannot build osc_bench"
    BENCH_HOW="compiled by this script: mpicc -O2 contrib/bench/osc_bench.c -lm"
fi

BENCH_ARGS=(-s "$SIZES")
if [ -n "$ITERS" ]; then
    BENCH_ARGS+=(-n "$ITERS")
elif [ "$QUICK" -eq 1 ]; then
    BENCH_ARGS+=(-n 2000 -w 200)
fi
ALL_TESTS=put_lat,get_lat,put_bw,get_bw,acc_lat,fop_lat,cas_lat
COMPS="rsm ucx"
[ "$RDMA" -eq 1 ] && COMPS="rsm ucx rdma"

# comp_args COMP: the mpirun options and osc_bench options that differ
comp_mca() {
    case $1 in
    rdma) echo "--mca osc rdma --mca btl self,vader" ;;
    *) echo "--mca osc $1" ;;
    esac
}
comp_tests() {
    case $1 in
    rdma) echo "${ALL_TESTS%,cas_lat}" ;;
    *) echo "$ALL_TESTS" ;;
    esac
}
MPIRUN_BASE=(mpirun --allow-run-as-root --oversubscribe -np 2 --map-by core --bind-to core)

FAILED=0
NRUN=0
declare -A RUNFILES=()   # comp -> list of output files
declare -A FAILS=()      # comp -> count of failed runs
# one_run COMP: one mpirun of osc_bench with COMP
one_run() {
    local comp=$1 out rc dom t0
    NRUN=$((NRUN + 1))
    out=$W/run.$NRUN.$comp
    dom=osccmp_$$_$NRUN
    t0=$(date +%s)
    # shellcheck disable=SC2046  # word splitting of comp_mca is meant
    UCX_CPG_DOMAIN=$dom UCX_CPG_REGISTRY_DIR=$REG \
        timeout -k 10 "$T" "${MPIRUN_BASE[@]}" -x UCX_CPG_DOMAIN -x UCX_CPG_REGISTRY_DIR \
        --mca mca_base_component_path "$CPATH_" $(comp_mca "$comp") \
        "$BENCH" -e "$comp" -t "$(comp_tests "$comp")" "${BENCH_ARGS[@]}" >"$out" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q "^osc_bench: OK (osc/$comp)" "$out"; then
        say "osc/$comp run $NRUN failed (exit status $rc$([ $rc -eq 124 ] && echo ", timed out after ${T}s")):"
        grep -v '^[a-z_]* osc/' "$out" | tail -15 | sed 's/^/    /' >&2
        FAILED=1
        FAILS[$comp]=$((${FAILS[$comp]:-0} + 1))
    else
        say "osc/$comp run $NRUN: ok ($(($(date +%s) - t0)) s)"
    fi
    RUNFILES[$comp]+=" $out"
}

STARTED=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_BEFORE=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')
read -r -a ORDER <<<"$COMPS"
for rep in $(seq "$REPS"); do
    say "repetition $rep of $REPS"
    n=${#ORDER[@]}
    for i in $(seq 0 $((n - 1))); do
        one_run "${ORDER[$(((i + rep - 1) % n))]}"
    done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
IDLE_AFTER=$(vmstat 1 2 2>/dev/null | awk 'END { print $15 }')

# vals COMP TEST SIZE FIELD: FIELD of every run of COMP (nan for a run without it)
vals() {
    local f line
    for f in ${RUNFILES[$1]:-}; do
        line=$(grep "^RESULT test=$2 osc=$1 size=$3 " "$f" 2>/dev/null | head -1)
        if [ -n "$line" ]; then field "$4" "$line"; else echo nan; fi
    done
}

# Which tests and sizes appeared (from any run), in osc_bench's order.
ROWS=$(cat "$W"/run.* 2>/dev/null | awk '/^RESULT / { split($2, t, "="); split($4, s, "=");
        k = t[2] " " s[2]; if (!(k in seen)) { seen[k] = 1; print k } }')
[ -n "$ROWS" ] || { say "no run produced a result"; exit 1; }

MAIN=$W/main.md
DETAIL=$W/detail.md
{
    printf '| Test | Size (B) | Metric | rsm | ucx | rsm/ucx'
    [ "$RDMA" -eq 1 ] && printf ' | rdma | rsm/rdma'
    printf ' |\n|---|---|---|---|---|---'
    [ "$RDMA" -eq 1 ] && printf '|---|---'
    printf '|\n'
} >"$MAIN"
{
    printf '| Test | Size (B) | Component | avg µs | median µs | p99 µs |\n'
    printf '|---|---|---|---|---|---|\n'
} >"$DETAIL"
while read -r test size; do
    case $test in
    *_bw) fld=bw_MiBps; metric="MiB/s"; d=0 ;;
    *) fld=lat_p50_us; metric="µs, median"; d=3 ;;
    esac
    declare -A med=() cell=()
    for c in $COMPS; do
        mapfile -t v < <(vals "$c" "$test" "$size" "$fld")
        med[$c]=$(stat median "${v[@]}")
        cell[$c]=$(med_range "$d" "${v[@]}")
        if [ "$c" = rdma ] && [ "$test" = cas_lat ]; then
            cell[$c]="not run (ompi#11349)"
        fi
        case $test in
        *_lat)
            mapfile -t a < <(vals "$c" "$test" "$size" lat_avg_us)
            mapfile -t p < <(vals "$c" "$test" "$size" lat_p99_us)
            [ "${cell[$c]}" = "not run (ompi#11349)" ] ||
                echo "| $test | $size | $c | $(fmt "$(stat median "${a[@]}")" 3) | $(fmt "${med[$c]}" 3) | $(fmt "$(stat median "${p[@]}")" 3) |" >>"$DETAIL"
            ;;
        esac
    done
    line="| $test | $size | $metric | ${cell[rsm]} | ${cell[ucx]} | $(ratio "${med[rsm]}" "${med[ucx]}")"
    if [ "$RDMA" -eq 1 ]; then
        line+=" | ${cell[rdma]} | $(ratio "${med[rsm]}" "${med[rdma]}")"
    fi
    echo "$line |" >>"$MAIN"
    unset med cell
done <<<"$ROWS"

# Things to show once: the window names and bindings each component's runs printed.
windows() {
    local c
    for c in $COMPS; do
        # shellcheck disable=SC2086  # the list of files
        printf '%s: %s; ' "$c" "$(cat ${RUNFILES[$c]:-/dev/null} 2>/dev/null | sed -n 's/^WINDOW name="\([^"]*\)".*/\1/p' |
            sed 's/ [0-9]*$//' | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s\"%s\" x%d", n++ ? ", " : "", substr($0, 2), c }')"
    done
}
BINDINGS=$(cat "$W"/run.* 2>/dev/null | sed -n 's/^BIND rank=\([0-9]*\) pid=[0-9]* cpus=\(.*\)/rank \1 on CPU(s) \2/p' | sort | uniq -c |
    awk '{ c = $1; $1 = ""; printf "%s%s (%d runs)", n++ ? ", " : "", substr($0, 2), c }')
BUILD_CONF=$( (cd "$BUILD" && ./config.status --config 2>/dev/null) || echo '?')
CFLAGS_USED=$(sed -n 's/^CFLAGS = //p' "$BUILD/Makefile" 2>/dev/null)
CPU_MODEL=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
OMPI_VER=$(ompi_info --parsable --version ompi full 2>/dev/null | sed -n 's/^ompi:version:full://p')
[ -n "$OMPI_VER" ] || OMPI_VER=$(ompi_info 2>/dev/null | awk '/Open MPI:/ { print $3; exit }')
UCX_VER=$(ucx_info -v 2>/dev/null | awk '/Version/ { print $3; exit }')

report() {
    echo "### osc_bench: osc/rsm vs osc/ucx${RDMA:+$([ "$RDMA" -eq 1 ] && echo " vs osc/rdma")} ($STARTED)"
    echo
    echo "Host: $(nproc) CPUs (${CPU_MODEL:-?}), Linux $(uname -r), Open MPI ${OMPI_VER:-?}, UCX ${UCX_VER:-?}."
    echo "Build $BUILD (configure ${BUILD_CONF:-default}; CFLAGS ${CFLAGS_USED:-?}); osc_bench $BENCH_HOW."
    echo "Load average before / after: $LOAD_BEFORE / $LOAD_AFTER; vmstat idle % before / after:" \
         "${IDLE_BEFORE:-?} / ${IDLE_AFTER:-?}.$([ "$QUICK" -eq 1 ] && echo ' QUICK RUN (-q): 2000 iterations.')"
    echo "Windows served: $(windows | sed 's/; $//'). Binding: ${BINDINGS:-?}."
    echo
    echo "Each run: \`UCX_CPG_DOMAIN=<unique> UCX_CPG_REGISTRY_DIR=<private> timeout $T ${MPIRUN_BASE[*]}"
    echo "-x UCX_CPG_DOMAIN -x UCX_CPG_REGISTRY_DIR --mca mca_base_component_path <dir with mca_osc_rsm.so>:$SYSDIR"
    echo "--mca osc rsm|ucx (rdma: --mca osc rdma --mca btl self,vader) osc_bench -e COMP -t TESTS ${BENCH_ARGS[*]}\`."
    echo "$REPS repetition(s), components in rotating order; every cell is the median [min–max] over the"
    echo "repetitions of one number per run: the median per-operation latency (MPI op + MPI_Win_flush,"
    echo "lock_all epoch, one clock read per sample) in µs, or MiB/s (2^20 B/s) of back-to-back ops"
    echo "(the median of 10 timed blocks, each closed by one MPI_Win_flush). Ratio = rsm / other on the"
    echo "medians: below 1 is better for rsm in latency rows, above 1 in MiB/s rows."
    echo "Atomic tests move one MPI_INT64_T (acc: MPI_Accumulate MPI_SUM; fop: MPI_Fetch_and_op MPI_SUM;"
    echo "cas: MPI_Compare_and_swap)."
    echo
    cat "$MAIN"
    if [ "$FAILED" -ne 0 ]; then
        echo
        echo "**Failed runs:** $(for c in $COMPS; do [ -n "${FAILS[$c]:-}" ] && printf 'osc/%s %d of %d; ' "$c" "${FAILS[$c]}" "$REPS"; done | sed 's/; $//')."
    fi
    echo
    echo "Latency detail (medians over the repetitions of each run's average, median and p99):"
    echo
    cat "$DETAIL"
}
if [ -n "$OUT" ]; then
    report | tee "$OUT"
else
    report
fi
[ "$FAILED" -eq 0 ] || { say "some runs failed (see above)"; exit 1; }
exit 0
