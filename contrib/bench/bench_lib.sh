# shellcheck shell=bash disable=SC2034
# bench_lib.sh - shell shared by the comparison scripts in contrib/bench
# (rsm_compare.sh, cpg_compare.sh, compare.sh). Sourced, not run; bash.
#
# What the caller must set before using a function:
#   W       a private temporary directory (outputs of the runs go there)
#   T       time limit of every process, in seconds
#   REPS    repetitions (med_range prints "median [min–max]" when above 1)
#   PORT    the last TCP port used (next_port starts above it)
#   FAILED  set to 1 by a function whose run failed
# and, for corosync_start: MY_UID, COROSYNC_INSTALL (1: apt-get install the
# package if it is missing; 0: never install), USE_EXISTING (1: use a
# corosync that is already running), and two functions of its own:
#   corosync_skip REASON   called when corosync cannot be used
#   cpg_works              0 when a CPG round trip through the daemon works
#
# Functions:
#   say / die                     messages prefixed with $BENCH_NAME
#   field NAME LINE               value of NAME=... in a RESULT line (nan if absent)
#   fmt X [DIGITS]                a number with DIGITS decimals, "—" for nan
#   ratio A B                     A / B with two decimals, "—" if not computable
#   stat median|min|max VALUES    over the values, nan ignored
#   med_range DIGITS VALUES       "median [min–max]" (the median alone for one repetition)
#   next_port                     PORT := the next free TCP port
#   ucx_pair TEST SIZE ITERS WARMUP
#                                 one ucx_perftest server/client pair (server on
#                                 CPU $UCX_SERVER_CPU, client on $UCX_CLIENT_CPU,
#                                 default 0 and 1, fresh port); sets from the
#                                 client's final line U_P50, U_LAT (the "average"
#                                 column), U_OLAT (overall latency), U_BW
#                                 (overall MiB/s) and U_MR (overall msg/s)
#   corosync_pids                 pids of running corosync processes
#   corosync_start / corosync_stop
#                                 a private single-node corosync (knet on
#                                 127.0.0.1, nodeid 1, state and log in $W),
#                                 started in the background and stopped by its
#                                 pid; sets COROSYNC_PID and COROSYNC_HOW

BENCH_NAME=${BENCH_NAME:-bench}

say() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }
die() { say "$*"; exit 3; }

# --- numbers ------------------------------------------------------------------------

field() {
    echo "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print "nan" }'
}
fmt() { awk -v x="$1" -v d="${2:-2}" 'BEGIN { if (x == "nan" || x == "") print "—"; else printf "%.*f\n", d, x }'; }
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f\n", a / b }'
}
stat() {
    local what=$1
    shift
    printf '%s\n' "$@" | grep -v '^nan$' | grep -v '^$' | sort -g | awk -v w="$what" '{ a[NR] = $1 }
        END { if (NR == 0) { print "nan"; exit }
              if (w == "min") print a[1]; else if (w == "max") print a[NR];
              else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
med_range() {
    local d=$1
    shift
    if [ "$(stat median "$@")" = nan ]; then
        echo "—"
    elif [ "${REPS:-1}" -eq 1 ]; then
        fmt "$(stat median "$@")" "$d"
    else
        echo "$(fmt "$(stat median "$@")" "$d") [$(fmt "$(stat min "$@")" "$d")–$(fmt "$(stat max "$@")" "$d")]"
    fi
}

# --- ucx_perftest -------------------------------------------------------------------

next_port() {
    PORT=$((PORT + 1))
    while command -v ss >/dev/null && [ -n "$(ss -Htan "sport = :$PORT" 2>/dev/null)" ]; do
        PORT=$((PORT + 1))
    done
}

# The final line of ucx_perftest -f (and of ucx_cpg_perftest -f): iterations,
# typical, average and overall latency, average and overall bandwidth,
# average and overall message rate.
ucx_pair() {
    local test=$1 size=$2 iters=$3 warmup=$4 try spid line scpu=${UCX_SERVER_CPU:-0} ccpu=${UCX_CLIENT_CPU:-1}
    for try in 1 2; do
        next_port
        timeout "$T" taskset -c "$scpu" ucx_perftest -t "$test" -s "$size" -n "$iters" -w "$warmup" \
            -c "$scpu" -p "$PORT" -f >"$W/srv.$PORT" 2>&1 &
        spid=$!
        sleep $((try == 1 ? 0 : 1)).4
        if ! timeout "$T" taskset -c "$ccpu" ucx_perftest localhost -t "$test" -s "$size" -n "$iters" \
            -w "$warmup" -c "$ccpu" -p "$PORT" -f >"$W/cli.$PORT" 2>&1; then
            sleep 0.5
            kill "$spid" 2>/dev/null       # a server that never saw its client
        fi
        wait "$spid" 2>/dev/null
        line=$(awk 'NF == 8 && $1 ~ /^[0-9]+$/ { l = $0 } END { print l }' "$W/cli.$PORT")
        if [ -n "$line" ]; then
            read -r _ U_P50 U_LAT U_OLAT _ U_BW _ U_MR <<<"$line"
            return 0
        fi
        say "ucx_perftest $test $size (port $PORT) failed, try $try:"
        sed 's/^/    /' "$W/cli.$PORT" | tail -5 >&2
    done
    FAILED=1
    U_P50=nan U_LAT=nan U_OLAT=nan U_BW=nan U_MR=nan
}

# --- corosync -------------------------------------------------------------------------

COROSYNC_PID=
COROSYNC_HOW=
COROSYNC_READY_S=

corosync_pids() {
    if command -v pgrep >/dev/null; then
        pgrep -x corosync
    else
        ps -eo pid=,comm= | awk '$2 == "corosync" { print $1 }'
    fi
}

free_udp_port() {
    local port=$((15405 + ($$ % 400) * 10)) used
    command -v ss >/dev/null || { echo "$port"; return; }
    used=$(ss -Huan "sport = :$port" 2>/dev/null)
    while [ -n "$used" ]; do
        port=$((port + 10))
        used=$(ss -Huan "sport = :$port" 2>/dev/null)
    done
    echo "$port"
}

corosync_config() {
    local dir=$1 port=$2
    cat <<EOF
# written by $BENCH_NAME: a private single-node corosync for benchmarks
totem {
    version: 2
    cluster_name: $BENCH_NAME
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    interface {
        linknumber: 0
        mcastport: $port
    }
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        nodeid: 1
        name: node1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_logfile: yes
    logfile: $dir/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}
system {
    state_dir: $dir/state
}
EOF
}

# shellcheck disable=SC2317  # called by the callers' cleanup
corosync_stop() {
    local pid=$COROSYNC_PID owner
    [ -n "$pid" ] || return 0
    COROSYNC_PID=
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 200); do                   # 20 s
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "corosync (pid $pid) did not stop on SIGTERM: SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    # what a killed corosync leaves behind, if it is ours
    owner=$(cat /var/run/corosync.pid 2>/dev/null)
    if [ "$owner" = "$pid" ]; then
        rm -f /var/run/corosync.pid
    fi
    rm -f /dev/shm/qb-corosync-"$pid"-blackbox-* 2>/dev/null
    say "stopped corosync (pid $pid)"
}

corosync_start() {
    local running dir port t0 t1 version
    running=$(corosync_pids | tr '\n' ' ')
    if [ "${USE_EXISTING:-0}" -eq 1 ]; then
        [ -n "$running" ] || { corosync_skip "-E given but no corosync is running"; return; }
        cpg_works || { corosync_skip "-E: the running corosync (pid $running) does not answer CPG"; return; }
        COROSYNC_HOW="the already running corosync (pid ${running% }, -E; not started or stopped here)"
        return
    fi
    if [ -n "$running" ]; then
        corosync_skip "a corosync is already running (pid ${running% }) that this script did not start; not touching it (stop it, or use -E to benchmark against it)"
        return
    fi
    if ! command -v corosync >/dev/null; then
        if [ "${COROSYNC_INSTALL:-0}" -ne 1 ]; then
            corosync_skip "corosync is not installed (apt-get install corosync; this script installs nothing)"
            return
        fi
        [ "$MY_UID" -eq 0 ] || { corosync_skip "corosync is not installed and installing it needs root"; return; }
        say "installing the corosync package (apt-get install -y corosync)"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y corosync >"$W/apt.log" 2>&1; then
            tail -5 "$W/apt.log" >&2
            corosync_skip "apt-get install -y corosync failed"
            return
        fi
        running=$(corosync_pids | tr '\n' ' ')
        if [ -n "$running" ]; then
            corosync_skip "installing the package started the system's corosync service (pid ${running% }); not touching it (stop and disable that service, or use -E)"
            return
        fi
    fi
    [ "$MY_UID" -eq 0 ] || { corosync_skip "starting a private corosync needs root (it writes /var/run/corosync.pid)"; return; }
    command -v corosync-cfgtool >/dev/null || { corosync_skip "corosync-cfgtool not found"; return; }
    dir=$W/corosync
    mkdir -p "$dir/state"
    port=$(free_udp_port)
    corosync_config "$dir" "$port" >"$dir/corosync.conf"
    if ! corosync -t -c "$dir/corosync.conf" >"$dir/check.out" 2>&1; then
        sed 's/^/    /' "$dir/check.out" >&2
        corosync_skip "corosync -t rejected the generated configuration"
        return
    fi
    t0=$(date +%s.%N)
    set -m                                     # its own process group: no terminal ^C
    corosync -f -c "$dir/corosync.conf" >"$dir/stdout" 2>&1 &
    COROSYNC_PID=$!
    set +m
    for _ in $(seq 300); do                    # 30 s
        if ! kill -0 "$COROSYNC_PID" 2>/dev/null; then
            wait "$COROSYNC_PID" 2>/dev/null
            COROSYNC_PID=
            tail -5 "$dir/corosync.log" "$dir/stdout" 2>/dev/null | sed 's/^/    /' >&2
            corosync_skip "corosync exited during start-up"
            return
        fi
        if corosync-cfgtool -s >/dev/null 2>&1 && cpg_works; then
            t1=$(date +%s.%N)
            COROSYNC_READY_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
            version=$(corosync -v | awk -F"'" '/version/ { print $2; exit }')
            COROSYNC_HOW="a private corosync $version started by this script (pid $COROSYNC_PID, knet on 127.0.0.1:$port, ready for CPG after ${COROSYNC_READY_S} s)"
            say "corosync ready (pid $COROSYNC_PID) after ${COROSYNC_READY_S} s"
            return
        fi
        sleep 0.1
    done
    tail -5 "$dir/corosync.log" 2>/dev/null | sed 's/^/    /' >&2
    corosync_stop
    corosync_skip "corosync did not answer CPG within 30 s"
}

# build_cpg_program OUT "CFLAGS" "SOURCES" "LIBS" COMPAT_DIR WHAT: compiles a
# CPG program against corosync's <corosync/cpg.h> and -lcpg when installed,
# else against the project's header and ucx_cpg's libcpg.so.4 (same soname
# and ABI). Sets CC_CMD and INC_HOW for the report; dies on failure. Needs
# TOP and W.
build_cpg_program() {
    _out=$1 _cflags=$2 _srcs=$3 _libs=$4 _compat=$5 _what=$6
    if [ -f /usr/include/corosync/cpg.h ]; then
        INC_HOW="the system <corosync/cpg.h>"
        _inc=
    else
        INC_HOW="the project's include/corosync/cpg.h"
        _inc=-I$TOP/include
    fi
    CC_CMD="gcc -std=gnu11 -O2${_cflags:+ $_cflags}${_inc:+ $_inc} -o $_out $_srcs -lcpg $_libs"
    if ! $CC_CMD 2>"$W/cc.err"; then
        # no system libcpg.so to link with: link with ucx_cpg's (same soname)
        CC_CMD="gcc -std=gnu11 -O2${_cflags:+ $_cflags} -I$TOP/include -o $_out $_srcs -L$_compat -lcpg $_libs"
        INC_HOW="the project's include/corosync/cpg.h"
        $CC_CMD 2>>"$W/cc.err" || { cat "$W/cc.err" >&2; die "cannot build $_what"; }
    fi
    say "built $_what: $CC_CMD"
}

