#!/bin/sh
# test_cpg_host.sh - the CPG integration suites again with host groups on
# (UCX_CPG_GROUP_HOST_LOG_MB: every group of the domain on one shared log,
# no sequencer; group/hostgroups.h), so that joins, leaves, rejoins, every
# dispatch mode, the fd, iteration, zero-copy sends, fork relays, totem
# confchgs, kills of members mid-flood and 8-process join storms are also
# checked on that path.
#
# Left out, because they test what host groups do not have or do not need:
# the stall timeout that removes a stopped member (not built for host groups
# yet: docs/protocol.md), the sequencer and its hand-over, the engine's
# message window (group_window) and the shared-memory body pool.
set -eu
: "${UCPG_TEST_BUILDDIR:?run by make check}"
# 128 MiB: the 16 MiB message of test_sizes fits (a quarter of the log).
UCX_CPG_GROUP_HOST_LOG_MB=128
export UCX_CPG_GROUP_HOST_LOG_MB
"$UCPG_TEST_BUILDDIR/test/integ/test_cpg_api" \
    test_handles_and_names test_messages test_leave_rejoin test_dispatch_modes \
    test_dispatch_batches test_flood_dispatch_returns test_iteration_and_zcb test_fork \
    test_fork_relay test_reasons_seen_by_a_member test_finalize_right_after_a_death \
    test_totem_confchg_follows_node_changes \
    test_totem_confchg_through_the_relay test_zcb_from_a_member_that_is_not_the_sequencer \
    test_exit_while_other_threads_multicast
# A flood in which every member's sender thread and dispatcher thread run
# side by side (cpg_bench: a dispatcher thread polls the fd) on a 1 MiB log
# that is full most of the time: a lost wake-up shows as a run that does
# not end (exit status 3); the books must balance (every message delivered
# to every member, in order, bodies checked).
for members in 2 4; do
    out=$(UCX_CPG_GROUP_HOST_LOG_MB=1 UCX_CPG_DOMAIN="cpg_host_$$" \
          "$UCPG_TEST_BUILDDIR/cpg_bench" -m thr -p "$members" -s 64 -t 1 -a -T 30 -M 2>&1) || {
        echo "cpg_bench on host groups, $members members all sending, failed:"; echo "$out"; exit 1; }
    res=$(echo "$out" | grep '^RESULT') || { echo "no RESULT line: $out"; exit 1; }
    sent=$(echo "$res" | sed -n 's/.* sent=\([0-9]*\) .*/\1/p')
    dmin=$(echo "$res" | sed -n 's/.* delivered_min=\([0-9]*\) .*/\1/p')
    dall=$(echo "$res" | sed -n 's/.* deliveries=\([0-9]*\) .*/\1/p')
    case "$res" in *" errors=0 "*) ;; *) echo "errors: $res"; exit 1 ;; esac
    if [ -z "$sent" ] || [ "$sent" -eq 0 ] || [ "$dmin" != "$sent" ] ||
        [ "$dall" -ne $((sent * members)) ]; then
        echo "the books do not balance: $res"; exit 1
    fi
    echo "PASS cpg_bench -p $members -a on host groups: $sent messages, every member got all"
done
# One sender, seven members asleep in poll() between its messages: every
# message's rings go to the sender's progress thread (more than one
# sleeper), and a ring lost there leaves a member asleep for good, a run
# that does not end (-T: exit status 3).
out=$(UCX_CPG_DOMAIN="cpg_host_lat_$$" \
      "$UCPG_TEST_BUILDDIR/cpg_bench" -m lat -p 8 -s 64 -n 3000 -T 60 2>&1) || {
    echo "cpg_bench -m lat -p 8 on host groups failed:"; echo "$out"; exit 1; }
echo "PASS cpg_bench -m lat -p 8 on host groups: $(echo "$out" | tail -n 1)"
exec "$UCPG_TEST_BUILDDIR/test/integ/test_cpg" \
    test_three_senders_agreed_and_safe test_sizes test_join_storm_8 \
    test_two_groups_per_process test_kill_sender_midstream test_kill_sequencer_midstream \
    test_flat_agreed_and_safe test_tree_chain_agreed_and_safe test_tree_binary_join_storm_8 \
    test_tree_chain_kill_forwarder_midstream test_tree_chain_kill_sequencer_midstream \
    test_handover_then_kill_new_sequencer test_handover_storm_four_senders
