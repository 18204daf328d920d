#!/bin/sh
# test_bench.sh - the benchmarks whose numbers the README quotes
# (contrib/bench/cpg_bench.c, contrib/bench/rsm_bench.c) still measure
# what they claim: short runs, correctness only, no timing assertions.
#
# cpg_bench: every run exits 0 with errors=0 in its RESULT line; in thr mode
# the books balance (the slowest member delivered every message sent, and
# the deliveries are the messages sent times the members, each member
# delivering every message, its own included); with every member sending no
# sender starves (each got at least a quarter of an even share ordered: a
# sequencer refusing its own sends while others' waited got 3%), at four
# members, where the sequencer's own messages go flat past a tree (FLAT,
# group/tree.c) and a message missing at the grandchild would show; in lat
# mode the percentiles are ordered. Bad arguments exit 4 with a usage message.
# rsm_bench: an exporter and an importer in one domain; every test prints
# a RESULT line with a positive rate, through the shared mapping and
# through UCP RMA (UCX_CPG_RSM_DIRECT=0); bad arguments exit 2.
set -u
B=${UCPG_TEST_BUILDDIR:-.}
CPG_BENCH="$B/cpg_bench"
RSM_BENCH="$B/rsm_bench"
TMP=$(mktemp -d)
XPID=
cleanup() {
    exec 7>&- 2>/dev/null
    [ -n "$XPID" ] && kill "$XPID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
export UCX_CPG_DOMAIN="bench_$$"
fails=0

fail() {
    echo "FAIL $1"; cat "$TMP/out" "$TMP/err" 2>/dev/null; fails=$((fails + 1))
}

# field NAME: the value of NAME= in the RESULT line of $TMP/out
field() {
    sed -n 's/^RESULT.* '"$1"'=\([^ ]*\).*$/\1/p' "$TMP/out" | head -n 1
}

# cpg_thr NAME MEMBERS ARGS...: a flood whose books must balance
cpg_thr() {
    name=$1; members=$2; shift 2
    "$CPG_BENCH" -m thr -p "$members" -t 1 -T 60 -M "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -ne 0 ]; then fail "$name: exit status $rc"; return; fi
    sent=$(field sent); dmin=$(field delivered_min); dall=$(field deliveries)
    errors=$(field errors)
    if [ -z "$sent" ] || [ "$sent" -le 0 ] || [ "$errors" != 0 ]; then
        fail "$name: sent '$sent' errors '$errors'"
    elif [ "$dmin" != "$sent" ]; then
        fail "$name: the slowest member delivered $dmin of $sent"
    elif [ "$dall" != "$((sent * members))" ]; then
        fail "$name: $dall deliveries, want $sent x $members"
    elif [ "$(field senders)" -gt 1 ] && [ "$(($(field sent_min) * members * 4))" -lt "$sent" ]; then
        fail "$name: a sender starved: $(field sent_min) of $sent messages ordered"
    else
        echo "PASS $name ($sent messages)"
    fi
}

# cpg_lat NAME ARGS...: latency percentiles in order
cpg_lat() {
    name=$1; shift
    "$CPG_BENCH" -m lat -n 300 -w 20 -T 60 -M "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -ne 0 ]; then fail "$name: exit status $rc"; return; fi
    if awk -v a="$(field min_us)" -v b="$(field p50_us)" -v c="$(field p99_us)" \
           -v d="$(field max_us)" -v e="$(field errors)" \
           'BEGIN { exit !(e == 0 && a > 0 && a <= b && b <= c && c <= d) }'; then
        echo "PASS $name (p50 $(field p50_us) us)"
    else
        fail "$name: percentiles out of order or errors"
    fi
}

# usage NAME PROGRAM WANT ARGS...: a bad command line
usage() {
    name=$1; prog=$2; want=$3; shift 3
    "$prog" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -ne "$want" ]; then
        fail "$name: exit status $rc, want $want"
    elif ! grep -qi "usage" "$TMP/err"; then
        fail "$name: no usage message"
    else
        echo "PASS $name"
    fi
}

cpg_thr cpg_thr_one_sender_three_members 3
cpg_thr cpg_thr_every_member_sends 4 -a
cpg_thr cpg_thr_8000_bytes 2 -s 8000
cpg_thr cpg_thr_one_member 1
cpg_thr cpg_thr_pinned_four_members 4 -c
cpg_lat cpg_lat_two_members -p 2
cpg_lat cpg_lat_busy_three_members -p 3 -b
usage cpg_bench_unknown_option "$CPG_BENCH" 4 -x
usage cpg_bench_size_below_header "$CPG_BENCH" 4 -m thr -s 16
usage cpg_bench_unknown_mode "$CPG_BENCH" 4 -m fast

# rsm_bench: the exporter lives until its standard input closes.
SEGID=$(printf '0x%x' $((0x500000 + ($$ % 65536))))
mkfifo "$TMP/x_in"
"$RSM_BENCH" -x -s 1048576 -i "$SEGID" -t 120 <"$TMP/x_in" >"$TMP/x_out" 2>"$TMP/x_err" &
XPID=$!
exec 7>"$TMP/x_in"
i=0
while ! grep -q "^READY" "$TMP/x_out" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1; i=$((i + 1))
done
if ! grep -q "^READY $SEGID" "$TMP/x_out"; then
    cp "$TMP/x_out" "$TMP/out"; cp "$TMP/x_err" "$TMP/err"
    fail "rsm_bench exporter never said READY"
else
    for direct in 1 0; do
        for t in put_lat get_lat put_bw get_bw map_bw putv_bw; do
            name="rsm_${t}_direct_$direct"
            UCX_CPG_RSM_DIRECT=$direct "$RSM_BENCH" -m "$t" -s 4096 -n 200 -w 10 -i "$SEGID" \
                >"$TMP/out" 2>"$TMP/err"
            rc=$?
            if [ $rc -ne 0 ]; then fail "$name: exit status $rc"; continue; fi
            if awk -v r="$(field ops_per_s)" -v t="$(field test)" -v want="$t" \
                   'BEGIN { exit !(t == want && r > 0) }'; then
                echo "PASS $name"
            else
                fail "$name: no RESULT with a positive rate"
            fi
        done
    done
    "$RSM_BENCH" -m put_bw -e -s 4096 -n 100 -i "$SEGID" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 0 ] && grep -q "^RESULT test=put_bw .*mode=explicit" "$TMP/out"; then
        echo "PASS rsm_put_bw_explicit_barrier"
    else
        fail "rsm_put_bw_explicit_barrier: exit status $rc"
    fi
fi
exec 7>&-
wait "$XPID"; rc=$?; XPID=
if [ $rc -eq 0 ]; then echo "PASS rsm_exporter_exits_0_at_end_of_input"; else
    cp "$TMP/x_out" "$TMP/out"; cp "$TMP/x_err" "$TMP/err"
    fail "rsm exporter: exit status $rc"
fi
usage rsm_bench_unknown_option "$RSM_BENCH" 2 -q
usage rsm_bench_unknown_test "$RSM_BENCH" 2 -m warp_bw

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
