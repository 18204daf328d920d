#!/bin/sh
# hosts_agent.sh - Open MPI rsh agent that makes "other hosts" on this
# machine, for the multi-host tests (test_mpirun_hosts.sh, test_osc_rsm.sh):
#
#   mpirun --host localhost:2,hostb:2 --mca plm_rsh_agent hosts_agent.sh ...
#
# mpirun runs "hosts_agent.sh [options] HOST COMMAND..." to start its daemon
# (orted) on HOST; this runs COMMAND here instead, with a registry directory
# of HOST's own ($UCPG_HOSTS_DIR/HOST), so the processes of each "host" meet
# in their own registry. Open MPI gives that daemon its own PMIx server and
# node id, and the ranks of the two hosts are not local to each other: they
# find each other only through the PMIx key-value store, as on two machines.
while [ $# -gt 0 ]; do
    case $1 in
    -*) shift ;;              # options an ssh would take
    *) break ;;
    esac
done
host=$1
shift
[ -n "${UCPG_HOSTS_DIR:-}" ] || { echo "hosts_agent.sh: UCPG_HOSTS_DIR is not set" >&2; exit 1; }
mkdir -p "$UCPG_HOSTS_DIR/$host" || exit 1
UCX_CPG_REGISTRY_DIR=$UCPG_HOSTS_DIR/$host
export UCX_CPG_REGISTRY_DIR
exec sh -c "$*"
