#!/bin/sh
# test_osc_rsm.sh - the Open MPI osc/rsm component under mpirun.
#
#   1. ompi_info lists the component (found through
#      OMPI_MCA_mca_base_component_path: ompi_info ignores --mca for it) and
#      its osc_rsm_priority parameter;
#   2. test_osc_rsm (every one-sided operation and synchronization mode,
#      see test_osc_rsm.c) with 2, 3 and 4 ranks, "--mca osc rsm"; and with
#      3 ranks again with osc_rsm_direct=0 (data through rsm put/get only);
#   3. selection: with every component and osc_rsm_priority 200 create and
#      allocate windows are rsm's, dynamic and shared ones are not; with no
#      options no window is rsm's; where the library cannot start (an invalid
#      UCX_CPG_DOMAIN) rsm refuses and another component serves;
#   4. mpirun_cpg_rsm (no MPI) with 2, 3 and 4 ranks: a CPG group with
#      agreed order and an RSM segment ring;
#   5. built with PMIx: test_osc_rsm with 4 ranks on two Open MPI nodes of
#      this machine (rsm serves windows across hosts), and with boot = local
#      there (rsm declines: its domain would not span the hosts).
# Every mpirun runs under a timeout and in its own UCX_CPG_DOMAIN, so
# concurrent test runs never meet. Any failure prints the run's output and
# exits 1; nothing is skipped (this test is in TESTS only when configure
# found Open MPI).
set -u

B=${UCPG_TEST_BUILDDIR:?UCPG_TEST_BUILDDIR is not set (run me from make check)}
MPIRUN=${MPIRUN:-mpirun}
TMO=${OSC_RSM_RUN_TIMEOUT:-60}

fail() {
    echo "FAIL test_osc_rsm.sh: $*" >&2
    exit 1
}

command -v "$MPIRUN" >/dev/null 2>&1 ||
    fail "mpirun ('$MPIRUN') not found, but Open MPI's headers were"
command -v ompi_info >/dev/null 2>&1 || fail "ompi_info not found"
SO="$B/ompi_mca/osc_rsm/.libs/mca_osc_rsm.so"
[ -f "$SO" ] || fail "$SO not built"
SYSDIR=$(ompi_info --parsable --path pkglibdir | sed -n 's/^path:pkglibdir://p')
[ -d "$SYSDIR" ] || fail "cannot find Open MPI's component directory (got '$SYSDIR')"

# A directory holding only the component: libtool's .libs also holds the
# objects (mca_osc_rsm_la-*.o), whose mca_ prefix the loader would try too.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/osc_rsm.XXXXXX") || fail "mktemp"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/comp"
ln -s "$SO" "$WORK/comp/mca_osc_rsm.so"
CPATH_="$WORK/comp:$SYSDIR"

# In a sanitizer build the component needs the ASan/UBSan runtimes, which an
# uninstrumented ompi_info does not carry: load them first (the MPI test
# programs are instrumented themselves).
SAN_PRELOAD=
case "${UCPG_SAN_FLAGS:-}" in
*sanitize=address*)
    SAN_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so) $(${CC:-cc} -print-file-name=libubsan.so)"
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" ;;
esac

# --- 1. ompi_info ------------------------------------------------------------------
OMPI_MCA_mca_base_component_path=$CPATH_ LD_PRELOAD="$SAN_PRELOAD" ompi_info > "$WORK/info" 2>&1 ||
    { cat "$WORK/info"; fail "ompi_info failed"; }
grep -q "MCA osc: rsm " "$WORK/info" ||
    { cat "$WORK/info"; fail "ompi_info does not list osc rsm"; }
OMPI_MCA_mca_base_component_path=$CPATH_ LD_PRELOAD="$SAN_PRELOAD" ompi_info --param osc rsm --level 9 \
    > "$WORK/param" 2>&1
grep -q 'osc_rsm_priority" (current value: "5"' "$WORK/param" ||
    { cat "$WORK/param"; fail "osc_rsm_priority is not listed with its default 5"; }
echo "ok: ompi_info lists osc rsm with osc_rsm_priority 5"

# --- mpirun ------------------------------------------------------------------------------
RUN=0
# mpi_run NP EXPECT_LINE ARGS... : runs under a timeout in a fresh domain;
# the output must contain EXPECT_LINE.
mpi_run() {
    np=$1; expect=$2; shift 2
    RUN=$((RUN + 1))
    UCX_CPG_DOMAIN="osc_$$_$RUN"; export UCX_CPG_DOMAIN
    log="$WORK/run$RUN.log"
    start=$(date +%s)
    timeout -k 5 "$TMO" "$MPIRUN" --oversubscribe --allow-run-as-root -np "$np" \
        -x UCX_CPG_DOMAIN --mca mca_base_component_path "$CPATH_" "$@" > "$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ] || ! grep -q "$expect" "$log"; then
        cat "$log"
        [ $rc -eq 124 ] && fail "run $RUN (np $np: $*) timed out after ${TMO}s"
        fail "run $RUN (np $np: $*) exit status $rc"
    fi
    echo "ok: np $np $* ($(($(date +%s) - start)) s)"
}

# --- 2. one-sided operations -------------------------------------------------------------
for np in 2 3 4; do
    mpi_run $np "test_osc_rsm all: OK ($np ranks)" --mca osc rsm "$B/test/mpi/test_osc_rsm" all
done
mpi_run 3 "test_osc_rsm all: OK (3 ranks)" --mca osc rsm --mca osc_rsm_direct 0 \
    "$B/test/mpi/test_osc_rsm" all

# --- 3. selection ----------------------------------------------------------------------------
mpi_run 2 "test_osc_rsm selection: OK" --mca osc_rsm_priority 200 \
    "$B/test/mpi/test_osc_rsm" selection
mpi_run 2 "test_osc_rsm not-rsm: OK" "$B/test/mpi/test_osc_rsm" not-rsm
# mpi_run exports a fresh UCX_CPG_DOMAIN; this run overrides it with -x NAME=VALUE
mpi_run 2 "test_osc_rsm not-rsm: OK" -x "UCX_CPG_DOMAIN=not/valid" --mca osc rsm,pt2pt \
    --mca osc_rsm_priority 200 "$B/test/mpi/test_osc_rsm" not-rsm

# --- 4. CPG and RSM without MPI ----------------------------------------------------------------
for np in 2 3 4; do
    mpi_run $np "rank $((np - 1)): ok" "$B/test/mpi/mpirun_cpg_rsm"
    n=$(grep -c '^rank [0-9]*: ok$' "$WORK/run$RUN.log")
    [ "$n" -eq "$np" ] ||
        { cat "$WORK/run$RUN.log"; fail "only $n of $np ranks of mpirun_cpg_rsm said ok"; }
done

# --- 5. across two Open MPI nodes ------------------------------------------------------------
# The rig of test_mpirun_hosts.sh (hosts_agent.sh: hostb's daemon runs here
# with its own registry directory and PMIx server). The PMIx boot's domain
# spans both hosts, so rsm serves a communicator with ranks on both; with
# the domain of one host only (boot = local) rsm declines and another
# component serves. pml ob1 with the tcp BTL: Open MPI's vader BTL crashed
# in this rig (in its own code, ompi_comm_dup).
if "$B/ucx_cpg_info" -c 2>/dev/null | grep -q "pmix=yes"; then
    UCPG_HOSTS_DIR=$WORK/hosts
    export UCPG_HOSTS_DIR
    HOSTS="--host localhost:2,hostb:2 --mca plm_rsh_agent
           ${UCPG_TEST_SRCDIR:-$(dirname "$0")/../..}/test/integ/hosts_agent.sh
           --mca pml ob1 --mca btl self,tcp"
    # shellcheck disable=SC2086  # HOSTS is words
    mpi_run 4 "test_osc_rsm all: OK (4 ranks)" $HOSTS --mca osc rsm "$B/test/mpi/test_osc_rsm" all
    # shellcheck disable=SC2086
    mpi_run 4 "test_osc_rsm not-rsm: OK" $HOSTS -x UCX_CPG_BOOT=local --mca osc rsm,pt2pt \
        --mca osc_rsm_priority 200 "$B/test/mpi/test_osc_rsm" not-rsm
else
    echo "ok: built without PMIx: no windows across hosts to test (section 5 not run)"
fi

echo "PASS test_osc_rsm.sh ($RUN mpirun runs)"
exit 0
