#!/bin/sh
# test_rsm_link.sh - a Solaris-style RSMAPI program builds with "-lrsm" and
# <rsmapi.h> alone and runs as exporter and importer in two independent
# processes. librsm.so is the GNU ld script that `make install` puts beside
# libucx_cpg.so (INPUT(-lucx_cpg)); here it is recreated in a temp dir.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
S=${UCPG_TEST_SRCDIR:-${srcdir:-.}}
T=$(mktemp -d)
trap 'kill $EXP 2>/dev/null; rm -rf "$T"' EXIT
printf '/* GNU ld script */\nINPUT(-lucx_cpg)\n' >"$T/librsm.so"
# A sanitizer build of the library needs the program built the same way.
# shellcheck disable=SC2086
if ! ${CC:-cc} ${UCPG_SAN_FLAGS:-} -std=gnu11 -Wall -Werror -I"$S/include" -o "$T/rsm_hello" \
        "$S/contrib/examples/rsm_hello.c" -L"$T" -L"$B/.libs" -Wl,-rpath,"$B/.libs" -lrsm; then
    echo "FAIL: rsm_hello does not build with -lrsm"; exit 1
fi
export UCX_CPG_DOMAIN="rsmlink_$$"
"$T/rsm_hello" export >"$T/exp.out" 2>&1 &
EXP=$!
i=0
while ! grep -q "exported segment" "$T/exp.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { echo "FAIL: exporter did not start"; cat "$T/exp.out"; exit 1; }
    sleep 0.1
done
if ! "$T/rsm_hello" import >"$T/imp.out" 2>&1; then
    echo "FAIL: importer"; cat "$T/imp.out" "$T/exp.out"; exit 1
fi
wait $EXP || { echo "FAIL: exporter"; cat "$T/exp.out"; exit 1; }
grep -q 'the importer wrote: "hello from an RSMAPI importer"' "$T/exp.out" ||
    { echo "FAIL: exporter did not see the message"; cat "$T/exp.out"; exit 1; }
grep -q "(match)" "$T/imp.out" || { echo "FAIL: read back"; cat "$T/imp.out"; exit 1; }
cat "$T/exp.out" "$T/imp.out"
echo "PASS rsm_hello built with -lrsm and ran"
