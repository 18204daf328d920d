#!/bin/sh
# Runs one test under a hard time limit (UCPG_TEST_TIMEOUT seconds, default
# 300) so that no test can hang the suite; SIGKILL 5 s after SIGTERM.
#
# One exception is retried, once: a run that failed with UCX 1.13's TCP
# assertion `uct_iface.h:884 Assertion 'comp->count > 0' failed` (a send
# completion UCX's own error path invokes twice when a peer is killed; see
# docs/protocol.md, "Known limits"). It is UCX's abort, not a check of ours
# failing; the retry says so loudly, runs the whole test again, and its
# result is the test's. Any other failure, and a second abort, fail as is.
limit=${UCPG_TEST_TIMEOUT:-300}
out=$(mktemp "${TMPDIR:-/tmp}/ucpg_test.XXXXXX") || exec timeout -k 5 "$limit" "$@"
trap 'rm -f "$out"' EXIT
timeout -k 5 "$limit" "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ] && grep -q "uct_iface.h:884 *Assertion .comp->count > 0' failed" "$out"; then
    echo "run_bounded: $1 hit UCX's TCP assertion uct_iface.h:884 (a UCX 1.13 bug, docs/protocol.md); running it once more"
    timeout -k 5 "$limit" "$@"
    rc=$?
fi
exit $rc
