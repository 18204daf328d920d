#!/bin/sh
# test_rsm_rma.sh - the whole RSM integration suite (test_rsm) again with the
# same-host data path off (UCX_CPG_RSM_DIRECT=0), so that put/get, the typed
# forms, vectors, barriers and atomics are also checked over UCP RMA and UCP
# atomics, the path an exporter on another host takes.
set -eu
: "${UCPG_TEST_BUILDDIR:?run by make check}"
UCX_CPG_RSM_DIRECT=0 exec "$UCPG_TEST_BUILDDIR/test/integ/test_rsm" "$@"
