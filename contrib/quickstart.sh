#!/bin/sh
# quickstart.sh - from a fresh Debian 12 checkout to a running ucx_cpg.
#
#   contrib/quickstart.sh          install the build dependencies (apt), build,
#                                  and run the demo: 4 independent processes
#                                  form a domain and exchange checked messages
#   contrib/quickstart.sh check    the same set-up, then run every test
#                                  (with CI=true also a sanitizer build and
#                                  make distcheck)
#
# Environment: UCPG_BUILD_DIR (default <checkout>/build), UCPG_DEMO_PROCS (4),
# MAKEFLAGS as usual.
set -eu

MODE=${1:-demo}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${UCPG_BUILD_DIR:-$TOP/build}
JOBS=$(nproc 2>/dev/null || echo 2)
# libcpg-dev: corosync's own headers, to check our <corosync/cpg.h> ABI against.
# gdb: a failing integration test prints the stacks of its ranks still running.
# groff-base: test_man_pages.sh renders every manual page.
PKGS="build-essential autoconf automake libtool pkg-config libucx-dev ucx-utils
      libhwloc-dev libcmocka-dev libopenmpi-dev openmpi-bin libpmix-dev libcpg-dev gdb
      groff-base"

say() { printf '\n==> %s\n' "$*"; }

install_deps() {
    missing=
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && { say "build dependencies already installed"; return; }
    say "installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; else
        echo "quickstart: need root or sudo to install:$missing" >&2; exit 1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
}

build() {  # build DIR [configure args...]
    dir=$1; shift
    if [ ! -x "$TOP/configure" ] || [ "$TOP/configure.ac" -nt "$TOP/configure" ] ||
       [ "$TOP/Makefile.am" -nt "$TOP/Makefile.in" ]; then
        say "autoreconf"
        (cd "$TOP" && autoreconf -fi)
    fi
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        say "configure $*"
        (cd "$dir" && "$TOP/configure" -q "$@")
    fi
    say "make (in $dir)"
    make -C "$dir" -j"$JOBS" >/dev/null
}

run_demo() {
    n=${UCPG_DEMO_PROCS:-4}
    out=$(mktemp -d)
    say "demo: $n independent processes form domain 'quickstart_$$' and exchange messages"
    i=0
    pids=
    while [ $i -lt "$n" ]; do
        UCX_CPG_DOMAIN="quickstart_$$" "$BUILD/ucx_cpg_demo" -n "$n" >"$out/$i.txt" 2>&1 &
        pids="$pids $!"
        i=$((i + 1))
    done
    status=0
    for pid in $pids; do wait "$pid" || status=1; done
    cat "$out"/*.txt
    rm -rf "$out"
    [ $status -eq 0 ] && say "demo OK: every byte sent was received intact" ||
        { echo "quickstart: the demo failed" >&2; exit 1; }
}

show_failed_logs() {  # show_failed_logs DIR: every failed test log under DIR
    find "$1" -path '*/test/*' -name '*.log' -exec grep -l -E '^(FAIL|ERROR)' {} + 2>/dev/null |
        while read -r log; do
            # the reasons first: stack dumps after them can push them
            # out of the tail
            echo "---- $log (failed checks and warnings)"
            grep -E 'check failed|^FAIL|WARN|ERROR|  rank|  note|\] ERR' "$log" | head -n 60
            echo "---- $log (end)"
            tail -n 60 "$log"
        done
}

run_checks() {  # run_checks DIR
    say "make check (in $1)"
    if ! make -C "$1" -j"$JOBS" check; then
        show_failed_logs "$1"
        exit 1
    fi
}

case "$MODE" in
    demo)
        install_deps
        build "$BUILD"
        run_demo
        ;;
    check)
        install_deps
        build "$BUILD"
        run_checks "$BUILD"
        if [ "${CI:-}" = true ]; then
            build "$BUILD-sanitizers" --enable-sanitizers --enable-debug
            ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} run_checks "$BUILD-sanitizers"
            say "make distcheck"
            # quiet on success; on failure the logs stay in the
            # distribution's _build tree, and they say which test failed
            if ! make -C "$BUILD" -j"$JOBS" distcheck >"$BUILD/distcheck.out" 2>&1; then
                grep -E '^(FAIL|ERROR|PASS):' "$BUILD/distcheck.out" || tail -n 40 "$BUILD/distcheck.out"
                show_failed_logs "$BUILD"
                exit 1
            fi
        fi
        say "all tests passed"
        ;;
    *)
        echo "usage: contrib/quickstart.sh [check]" >&2
        exit 2
        ;;
esac
