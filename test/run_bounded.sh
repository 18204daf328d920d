#!/bin/sh
# Runs one test under a hard time limit (UCPG_TEST_TIMEOUT seconds, default
# 300) so that no test can hang the suite; SIGKILL 5 s after SIGTERM.
exec timeout -k 5 "${UCPG_TEST_TIMEOUT:-300}" "$@"
