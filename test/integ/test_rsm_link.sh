#!/bin/sh
# test_rsm_link.sh - a Solaris-style RSMAPI program builds with "-lrsm" and
# <rsmapi.h> alone and runs as exporter and importer in two independent
# processes (three pairs at once). librsm.so is the GNU ld script that `make install` puts beside
# libucx_cpg.so (INPUT(-lucx_cpg)); here it is recreated in a temp dir.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
S=${UCPG_TEST_SRCDIR:-${srcdir:-.}}
T=$(mktemp -d)
EXP=""; IMP=""
# shellcheck disable=SC2086
trap 'kill $EXP $IMP 2>/dev/null; rm -rf "$T"' EXIT
printf '/* GNU ld script */\nINPUT(-lucx_cpg)\n' >"$T/librsm.so"
# A sanitizer build of the library needs the program built the same way.
# shellcheck disable=SC2086
if ! ${CC:-cc} ${UCPG_SAN_FLAGS:-} -std=gnu11 -Wall -Werror -I"$S/include" -o "$T/rsm_hello" \
        "$S/contrib/examples/rsm_hello.c" -L"$T" -L"$B/.libs" -Wl,-rpath,"$B/.libs" -lrsm; then
    echo "FAIL: rsm_hello does not build with -lrsm"; exit 1
fi
export UCX_CPG_DOMAIN="rsmlink_$$"
# Three exporter/importer pairs at once: six independent processes (started by
# exec, sharing nothing but the domain name) in one domain.
PAIRS="0 1 2"
EXP=""
for p in $PAIRS; do
    "$T/rsm_hello" export $((0x400200 + p)) >"$T/exp$p.out" 2>&1 &
    EXP="$EXP $!"
done
for p in $PAIRS; do
    i=0
    while ! grep -q "exported segment" "$T/exp$p.out" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt 100 ] && { echo "FAIL: exporter $p did not start"; cat "$T/exp$p.out"; exit 1; }
        sleep 0.1
    done
done
IMP=""
for p in $PAIRS; do
    "$T/rsm_hello" import $((0x400200 + p)) >"$T/imp$p.out" 2>&1 &
    IMP="$IMP $!"
done
fail=0
for pid in $IMP; do wait "$pid" || fail=1; done
for pid in $EXP; do wait "$pid" || fail=1; done
for p in $PAIRS; do
    cat "$T/exp$p.out" "$T/imp$p.out"
    grep -q 'the importer wrote: "hello from an RSMAPI importer"' "$T/exp$p.out" ||
        { echo "FAIL: exporter $p did not see the message"; fail=1; }
    grep -q "(match)" "$T/imp$p.out" || { echo "FAIL: importer $p read back"; fail=1; }
done
[ $fail -eq 0 ] || { echo "FAIL: a process of the three pairs failed"; exit 1; }
echo "PASS rsm_hello built with -lrsm and ran as three independent exporter/importer pairs"
