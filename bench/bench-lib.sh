# shellcheck shell=bash
# bench/bench-lib.sh — bench-only helpers on top of integration/lib.sh (sourced after it by
# scripts/bench). lib.sh gives the throwaway Postfix, ports, the test PKI and cleanup; this file
# adds what only the benchmark needs: a segel config whose system sender is 127.0.0.1 (smtp-source
# cannot AUTH), a counting smtp-sink, the do-nothing milter, OpenDKIM, and the measurement loops.
#
# Needs: $BENCH_BIN (directory with segel-bench-*), $SEGEL_MILTER, $T, $PKI, $MILTER_SOCK,
#        $BENCH_RAW (JSON-lines file the runs append to).
# BENCH_CALLGRIND=1 (scripts/bench --callgrind): segel-milter, the no-op milter and the limit run
# under valgrind --tool=callgrind, and every run also records instructions_per_msg — counted over
# its measured messages only (after the warm-up), the same on a busy machine as on an idle one.

BENCH_PIDS=()
declare -A BENCH_NAME_OF=()  # daemon pid -> NAME given to bench_start_daemon (its log: $T/NAME.log)
BENCH_DKIM_DIR=""

# bench__cleanup: stops the daemons started here, then lib.sh's own cleanup (Postfix, sink, $T).
bench__cleanup() {
    local rc=$? p
    set +e
    for p in "${BENCH_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${BENCH_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    [ -n "$BENCH_DKIM_DIR" ] && rm -rf "$BENCH_DKIM_DIR"
    (exit "$rc")
    seg__cleanup
}

# bench_write_config FILE SOCKET: segel's config for the benchmark. siti (RSA-2048, PKCS#12) and
# budi (EC P-256, PEM) sign; 127.0.0.1 is a system sender that may send as both, so smtp-source
# (no AUTH) is signed; the milter-alone runs authenticate with {auth_authen} instead.
bench_write_config() {
    local f=$1 sock=$2
    mkdir -p "$T/spool"
    cat >"$f" <<EOF
milter:
  socket: unix:$sock
  internal_networks: [127.0.0.0/8]
  on_internal_error: tempfail
  spool_memory_limit: 1M
  spool_directory: $T/spool
  max_message_size: 50M
log:
  level: info
trust:
  anchors: [$PKI/root.pem]
  intermediates: [$PKI/intermediate.pem]
signing:
  format: detached
  other_senders: reject
  domains:
    - domain: dinas.example.go.id
  logins:
    budi: [budi@dinas.example.go.id]
  systems:
    - client: 127.0.0.1
      name: bench
      may_send_as: [siti@dinas.example.go.id, budi@dinas.example.go.id]
credentials:
  - pkcs12: $PKI/siti.p12
    passphrase_file: $PKI/siti.pass
  - certificate: $PKI/budi.crt
    key: $PKI/budi.key
EOF
    # Verification of inbound mail, where the tree has it (issue 3): on, with its defaults.
    if grep -q 'authserv_id' "$REPO/config/inbound.cpp" 2>/dev/null; then
        printf 'inbound:\n  authserv_id: mx.bench.example\n' >>"$f"
    fi
}

# bench__wait_socket PATH PID NAME: waits up to 10 s (under valgrind 120 s) for a daemon's unix socket.
# segel-milter sets the socket's mode itself after creating it, so the mode is opened up for the
# MTA only once this process (its pid: the log is appended to across restarts) has said it is
# listening. Under valgrind the gap is wide enough for a chmod to land before segel's own, and
# Postfix then gets "Permission denied".
bench__wait_socket() {
    local tries=100
    [ "${BENCH_CALLGRIND:-0}" = 1 ] && tries=1200
    for _ in $(seq "$tries"); do
        if [ -S "$1" ] && { [[ $3 != segel* ]] || grep -q "\[$2\]: .*listening" "$T/$3.log"; }; then
            chmod 666 "$1"
            return 0
        fi
        kill -0 "$2" 2>/dev/null || { seg__tail "$T/$3.log" "$3 log"; seg_fail "$3 exited before creating $1"; }
        sleep 0.1
    done
    seg_fail "$3 did not create $1 in time"
}

# bench_start_daemon NAME SOCKET CMD...: starts a milter in the background; its pid goes to
# BENCH_DAEMON_PID (and into the cleanup list). With BENCH_CALLGRIND=1 segel-milter and the
# no-op milter run under callgrind (dumps: $T/cg/NAME.PID.N).
bench_start_daemon() {
    local name=$1 sock=$2
    shift 2
    rm -f "$sock"
    if [ "${BENCH_CALLGRIND:-0}" = 1 ] && [ "$name" != opendkim ]; then
        mkdir -p "$T/cg"
        # --compress-strings=no: each dump names its functions itself (callgrind_annotate reads it alone)
        set -- valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$T/cg/$name.%p" "$@"
    fi
    "$@" >>"$T/$name.log" 2>&1 &
    BENCH_DAEMON_PID=$!
    BENCH_PIDS+=("$BENCH_DAEMON_PID")
    BENCH_NAME_OF[$BENCH_DAEMON_PID]=$name
    bench__wait_socket "$sock" "$BENCH_DAEMON_PID" "$name"
}

bench_stop_daemon() { # PID
    kill -TERM "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# bench_start_sink: smtp-sink that only counts (no -d: writing files would cost every variant alike
# and measure the disk). lib.sh's cleanup stops it.
bench_start_sink() {
    smtp-sink -u postfix "127.0.0.1:$SINK_PORT" 1000 >"$T/sink.log" 2>&1 &
    SEG_SINK_PID=$!
    seg__wait_port "$SINK_PORT" || { seg__tail "$T/sink.log" "smtp-sink log"; seg_fail "smtp-sink did not start"; }
}

# bench_opendkim_config: OpenDKIM signing every message from dinas.example.go.id with an
# RSA-2048 key (relaxed/simple, rsa-sha256), listening on $MILTER_SOCK. OpenDKIM refuses a
# configuration file or key below a world-writable directory such as /tmp, so both live in a
# private directory under /var/lib (removed on exit); sets BENCH_DKIM_CONF.
bench_opendkim_config() {
    BENCH_DKIM_DIR=$(mktemp -d /var/lib/segel-bench-dkim.XXXXXX)
    chmod 700 "$BENCH_DKIM_DIR"
    opendkim-genkey -b 2048 -d dinas.example.go.id -s bench -D "$BENCH_DKIM_DIR" >/dev/null 2>&1 \
        || seg_fail "opendkim-genkey failed"
    chmod 600 "$BENCH_DKIM_DIR/bench.private"
    BENCH_DKIM_CONF="$BENCH_DKIM_DIR/opendkim.conf"
    cat >"$BENCH_DKIM_CONF" <<EOF
Syslog                  no
Background              no
Mode                    s
Domain                  dinas.example.go.id
Selector                bench
KeyFile                 $BENCH_DKIM_DIR/bench.private
Canonicalization        relaxed/simple
SignatureAlgorithm      rsa-sha256
InternalHosts           127.0.0.0/8
Socket                  local:$MILTER_SOCK
UMask                   000
PidFile                 $BENCH_DKIM_DIR/opendkim.pid
EOF
}

# bench__perf_start PID LABEL / bench__perf_stop: with BENCH_PERF_DIR set (scripts/bench --perf),
# a sampled profile of segel-milter (software cpu-clock events: this kind of VM exposes no hardware
# counters) over one measured run, in $BENCH_PERF_DIR/LABEL.data ("|" becomes "_"); a label measured
# again (the headline rows' rounds) gets LABEL.2.data, LABEL.3.data, ...
BENCH_PERF_PID=""
BENCH_PERF_FILE=""
bench__perf_start() {
    BENCH_PERF_PID=""
    if [ -z "${BENCH_PERF_DIR:-}" ] || [ -z "${1:-}" ]; then return 0; fi
    case ${BENCH_NAME_OF[$1]:-} in segel*) ;; *) return 0 ;; esac
    local base="$BENCH_PERF_DIR/${2//|/_}" n=1
    BENCH_PERF_FILE="$base.data"
    while [ -e "$BENCH_PERF_FILE" ]; do n=$((n + 1)) && BENCH_PERF_FILE="$base.$n.data"; done
    perf record -q -e cpu-clock -F 4999 -p "$1" -o "$BENCH_PERF_FILE" >"$T/perf.log" 2>&1 &
    BENCH_PERF_PID=$!
    sleep 0.5  # perf attaches before the run starts
}
bench__perf_stop() {
    [ -n "$BENCH_PERF_PID" ] || return 0
    kill -INT "$BENCH_PERF_PID" 2>/dev/null || true
    wait "$BENCH_PERF_PID" 2>/dev/null || true
    BENCH_PERF_PID=""
    [ -s "$BENCH_PERF_FILE" ] || { seg__tail "$T/perf.log" "perf record log"; seg_fail "--perf: perf record wrote no $BENCH_PERF_FILE (its log is above; as a user other than root, kernel.perf_event_paranoid must be 2 or lower)"; }
}

# bench_milter_run LABEL SOCKET PID [milterload args...]: one milter-alone run, appended to
# $BENCH_RAW as a JSON line.
bench_milter_run() {
    local label=$1 sock=$2 pid=$3
    shift 3
    local out
    local -a counted=()
    [ "${BENCH_CALLGRIND:-0}" = 1 ] && counted=(--callgrind)
    bench__perf_start "$pid" "$label"
    if ! out=$("$BENCH_BIN/segel-bench-milterload" --label "$label" --socket "$sock" --pid "$pid" "${counted[@]}" "$@" \
        2>"$T/milterload.err"); then
        cat "$T/milterload.err" >&2
        printf '%s\n' "$out" >&2
        seg__tail "$T/${BENCH_NAME_OF[$pid]:-segel}.log" "${BENCH_NAME_OF[$pid]:-segel} log"
        seg_fail "milter run $label failed"
    fi
    bench__perf_stop
    [ "${BENCH_CALLGRIND:-0}" = 1 ] && out=$(bench__instructions "$out" "$T/cg/${BENCH_NAME_OF[$pid]}.$pid")
    printf '%s\n' "$out" >>"$BENCH_RAW"
    printf '  %-28s %s\n' "$label" "$(bench__brief "$out")"
}

# bench_limit_run LABEL [limit args...]
bench_limit_run() {
    local label=$1 out
    shift
    local -a valgrind=()
    if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
        mkdir -p "$T/cg"
        rm -f "$T/cg/limit".*
        valgrind=(valgrind --tool=callgrind --callgrind-out-file="$T/cg/limit.%p")
    fi
    out=$("${valgrind[@]}" "$BENCH_BIN/segel-bench-limit" --label "$label" "$@" 2>"$T/limit.err") \
        || { cat "$T/limit.err" >&2; seg_fail "limit run $label failed"; }
    if [ "${BENCH_CALLGRIND:-0}" = 1 ]; then
        local dump
        dump=$(ls "$T/cg"/limit.*.1)  # dumped by the client request after the measured loop
        out=$(bench__instructions "$out" "${dump%.1}")
    fi
    printf '%s\n' "$out" >>"$BENCH_RAW"
    printf '  %-28s %s\n' "$label" "$(bench__brief "$out")"
}

# bench__instructions JSON DUMP_PREFIX: JSON plus instructions_per_msg, from the newest callgrind
# dump DUMP_PREFIX.N (its totals ÷ the run's messages).
bench__instructions() {
    "$SEG_PY" - "$1" "$2" <<'EOF'
import glob, json, sys
run, prefix = json.loads(sys.argv[1]), sys.argv[2]
dumps = sorted(glob.glob(prefix + ".*"), key=lambda p: int(p.rsplit(".", 1)[1]))
if not dumps:
    sys.exit("no callgrind dump %s.N" % prefix)
totals = [int(l.split()[1]) for l in open(dumps[-1]) if l.startswith("totals:")]
run["instructions_per_msg"] = totals[0] / max(1, run["messages"])
print(json.dumps(run))
EOF
}

bench__brief() {
    "$SEG_PY" -c 'import json,sys; r=json.loads(sys.argv[1]); print("%8.1f msg/s %8.1f MB/s  p50 %7.2f ms  cpu %7.3f ms/msg  rss %6.1f MB" % (r["msgs_per_s"], r["mb_per_s"], r["latency_ms_p50"], r["daemon_cpu_ms_per_msg"], r.get("peak_rss_mb", -1)) + ("  %.3f M instr/msg" % (r["instructions_per_msg"] / 1e6) if "instructions_per_msg" in r else ""))' "$1"
}

# bench__cpu PID: "process_user_ticks process_system_ticks machine_busy_ticks"
bench__cpu() {
    local p="0 0"
    if [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ]; then
        p=$(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12, $13}')
    fi
    awk -v p="$p" '/^cpu / {print p, $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

bench__sent() { grep -c 'status=sent' "$T/maillog" 2>/dev/null || true; }

# bench_e2e_run VARIANT SHAPE FILE COUNT SESSIONS PID: smtp-source → Postfix (+ milter) → smtp-sink;
# throughput until the last message reached the sink, CPU per message (milter and machine),
# the milter's peak RSS, and the first of Postfix's delays= (arrival until the message is in the
# incoming queue: SMTP transfer, cleanup and the milter; ms resolution) — the total delay= would
# mostly measure the queue backlog of a saturated relay.
bench_e2e_run() {
    local variant=$1 shape=$2 file=$3 count=$4 sessions=$5 pid=${6:-}
    local before after t0 t1 cpu0 cpu1 log_off rejected
    [ -n "$pid" ] && "$SEG_PY" -c 'import sys; open("/proc/%s/clear_refs" % sys.argv[1], "w").write("5")' "$pid" 2>/dev/null || true
    before=$(bench__sent)
    log_off=$(stat -c %s "$T/maillog")
    [ "${BENCH_CALLGRIND:-0}" = 1 ] && [ -n "$pid" ] && callgrind_control -z "$pid" >/dev/null
    [ "${variant%-warmup}" = "$variant" ] && bench__perf_start "$pid" "e2e|$variant|$shape"
    cpu0=$(bench__cpu "$pid")
    t0=$(date +%s.%N)
    smtp-source -s "$sessions" -m "$count" -f "$BENCH_FROM" -t kepala@mitra.example -F "$file" \
        "127.0.0.1:$SMTP_PORT" >"$T/smtp-source.log" 2>&1 || { cat "$T/smtp-source.log" >&2; seg_fail "smtp-source failed"; }
    for _ in $(seq 3000); do
        after=$(bench__sent)
        [ "${after:-0}" -ge $((before + count)) ] && break
        rejected=$(tail -c +"$((log_off + 1))" "$T/maillog" | grep -c -E 'milter-reject|status=deferred' || true)
        [ "${rejected:-0}" -gt 0 ] && { tail -c +"$((log_off + 1))" "$T/maillog" | grep -E 'milter-reject|status=deferred' | head -3 >&2; seg_fail "e2e $variant: messages were rejected or deferred"; }
        sleep 0.05
    done
    t1=$(date +%s.%N)
    cpu1=$(bench__cpu "$pid")
    bench__perf_stop
    [ "${BENCH_CALLGRIND:-0}" = 1 ] && [ -n "$pid" ] && callgrind_control -d "$pid" >/dev/null
    [ "${after:-0}" -ge $((before + count)) ] || seg_fail "e2e $variant: only $((after - before)) of $count delivered"
    local rss=-1
    [ -n "$pid" ] && rss=$(awk '/^VmHWM:/ {print $2 / 1024}' "/proc/$pid/status")
    local signed
    signed=$(tail -c +"$((log_off + 1))" "$T/maillog" | grep -c 'status=sent' || true)
    tail -c +"$((log_off + 1))" "$T/maillog" | grep 'status=sent' | sed -n 's/.* delays=\([0-9.]*\)\/.*/\1/p' >"$T/delays.txt"
    "$SEG_PY" - "$variant" "$shape" "$count" "$sessions" "$(stat -c %s "$file")" "$t0" "$t1" "$cpu0" "$cpu1" \
        "$(getconf CLK_TCK)" "$rss" "$T/delays.txt" "${pid:+1}" >>"$BENCH_RAW" <<'EOF'
import json, sys
(variant, shape, count, sessions, size, t0, t1, cpu0, cpu1, tck, rss, delays, has_pid) = sys.argv[1:14]
count = int(count); wall = float(t1) - float(t0); tck = float(tck)
u0, s0, m0 = map(float, cpu0.split()); u1, s1, m1 = map(float, cpu1.split())
per_msg = lambda ticks: ticks / tck * 1000 / count if has_pid else 0.0
d = sorted(float(x) * 1000 for x in open(delays) if x.strip())
q = lambda f: d[min(len(d) - 1, int(f * (len(d) - 1) + 0.5))] if d else -1
print(json.dumps({"label": "e2e|%s|%s|rsa" % (variant, shape), "kind": "e2e", "concurrency": int(sessions),
    "messages": count, "message_bytes": int(size), "seconds": wall, "msgs_per_s": count / wall,
    "mb_per_s": count * int(size) / 1e6 / wall, "latency_ms_p50": q(0.5), "latency_ms_p99": q(0.99),
    "daemon_cpu_ms_per_msg": per_msg(u1 - u0 + s1 - s0), "daemon_user_ms_per_msg": per_msg(u1 - u0),
    "daemon_sys_ms_per_msg": per_msg(s1 - s0),
    "machine_cpu_ms_per_msg": (m1 - m0) / tck * 1000 / count, "peak_rss_mb": float(rss), "error": ""}))
EOF
    if [ "${BENCH_CALLGRIND:-0}" = 1 ] && [ -n "$pid" ]; then
        local counted
        counted=$(bench__instructions "$(tail -n 1 "$BENCH_RAW")" "$T/cg/${BENCH_NAME_OF[$pid]}.$pid")
        sed -i '$d' "$BENCH_RAW"
        printf '%s\n' "$counted" >>"$BENCH_RAW"
    fi
    printf '  %-28s %s\n' "e2e|$variant|$shape" "$(bench__brief "$(tail -n 1 "$BENCH_RAW")")"
}
