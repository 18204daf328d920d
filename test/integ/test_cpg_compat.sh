#!/bin/sh
# test_cpg_compat.sh - the ABI drop-in: a CPG program compiled against
# corosync's own <corosync/cpg.h> and linked with Debian's -lcpg (so it
# records cpg_join@COROSYNC_CPG_1.0 and friends) runs unmodified on our
# compat/libcpg.so.4 through LD_LIBRARY_PATH: two instances find each
# other, exchange numbered messages and leave. Also checks the library's
# soname and symbol versions against what such a binary asks for.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
S=${UCPG_TEST_SRCDIR:-${srcdir:-.}}
LIB="$B/compat/.libs"
T=$(mktemp -d)
trap 'kill $P1 2>/dev/null; rm -rf "$T"' EXIT
P1=
if [ ! -f /usr/include/corosync/cpg.h ] || ! ${CC:-cc} -print-file-name=libcpg.so | grep -q /; then
    echo "SKIP: corosync's libcpg-dev is not installed (apt-get install libcpg-dev)"; exit 77
fi
[ -f "$LIB/libcpg.so.4" ] || { echo "FAIL: $LIB/libcpg.so.4 was not built"; exit 1; }
# Built exactly as a corosync user would: system header, system library.
# shellcheck disable=SC2086
if ! ${CC:-cc} ${UCPG_SAN_FLAGS:-} -std=gnu11 -O1 -o "$T/testcpg" \
        "$S/contrib/cpg/ucx_cpg_testcpg.c" -lcpg -lpthread; then
    echo "FAIL: testcpg does not build against corosync's libcpg"; exit 1
fi
readelf -V "$T/testcpg" | grep -q "COROSYNC_CPG_1.0" ||
    { echo "FAIL: the binary does not record COROSYNC_CPG_1.0"; exit 1; }
readelf -d "$LIB/libcpg.so.4" | grep -q "SONAME.*\[libcpg.so.4\]" ||
    { echo "FAIL: soname is not libcpg.so.4"; exit 1; }
for f in cpg_initialize cpg_finalize cpg_fd_get cpg_dispatch cpg_join cpg_leave \
         cpg_mcast_joined cpg_membership_get cpg_context_get cpg_context_set \
         cpg_zcb_alloc cpg_zcb_free; do
    nm -D --defined-only --with-symbol-versions "$LIB/libcpg.so.4" |
        grep -q " $f@@COROSYNC_CPG_1.0\$" || { echo "FAIL: $f@@COROSYNC_CPG_1.0 missing"; exit 1; }
done
for f in cpg_model_initialize cpg_max_atomic_msgsize_get cpg_local_get \
         cpg_flow_control_state_get cpg_zcb_mcast_joined cpg_iteration_initialize \
         cpg_iteration_next cpg_iteration_finalize; do
    nm -D --defined-only --with-symbol-versions "$LIB/libcpg.so.4" |
        grep -q " $f\$" || { echo "FAIL: unversioned $f missing"; exit 1; }
done
export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
LD_TRACE_LOADED_OBJECTS=1 "$T/testcpg" | grep -q "libcpg.so.4 => $LIB" ||
    { echo "FAIL: libcpg.so.4 does not resolve to $LIB"; exit 1; }
export UCX_CPG_DOMAIN="cpgcompat_$$"
timeout 60 "$T/testcpg" -n 50 -w 2 -T 30 compat >"$T/a.out" 2>&1 &
P1=$!
if ! timeout 60 "$T/testcpg" -n 50 -w 2 -T 30 compat >"$T/b.out" 2>&1; then
    echo "FAIL: second instance"; cat "$T/a.out" "$T/b.out"; exit 1
fi
wait $P1 || { echo "FAIL: first instance"; cat "$T/a.out" "$T/b.out"; exit 1; }
P1=
for f in a b; do
    grep -q "^DONE sent=50 own_delivered=50 errors=0" "$T/$f.out" ||
        { echo "FAIL: $f did not get its 50 messages back"; cat "$T/$f.out"; exit 1; }
    grep -q "^CONFCHG group=compat members=\[[0-9]*/[0-9]* [0-9]*/[0-9]*\]" "$T/$f.out" ||
        { echo "FAIL: $f never saw the other instance"; cat "$T/$f.out"; exit 1; }
done
echo "PASS a binary linked with corosync's -lcpg ran on compat/libcpg.so.4"
