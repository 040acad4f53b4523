# shellcheck shell=bash
# bench/audit-bench.sh — the audit trail's benchmark sections of scripts/bench (sourced after
# bench-lib.sh and integration/audit-lib.sh): --only audit and --only audit-scale.
#
#   audit_cost_runs    segel-milter alone, 2 KB RSA-2048, without the audit trail and with it
#                      (sync full and normal), rounds alternating, concurrency 1/2/8; and the
#                      append micro-benchmark (segel-bench-audit append: appenders, events/s,
#                      p50/p99 of append, events per commit)
#   audit_scale_run    10 million realistic events generated in bulk; `segelctl audit verify` on
#                      the SQLite file; shipped to a PostgreSQL 15 under $T; verify there
# Both write $out_dir/audit.json and $out_dir/audit.md.

AUDIT_RAW="$T/audit-raw.jsonl"
AUDIT_NEXT_CLEANUP=bench__cleanup  # audit_start_pg's EXIT trap ends with the bench's cleanup

audit__record() { printf '%s\n' "$1" >>"$AUDIT_RAW"; }

audit_cost_runs() {
    : >"$AUDIT_RAW"
    local variant c round n secs pid sock="$T/segel-audit.sock"
    n=5000
    secs=$cap
    [ "$mode" = smoke ] && n=4 && secs=0
    echo "## the audit trail's cost (segel-milter alone, 2 KB, RSA-2048)"
    for round in 1 2 3; do
        for variant in none full normal; do
            bench_write_config "$T/segel-$variant.yaml" "$sock"
            if [ "$variant" != none ]; then
                rm -f "$T/audit-$variant.db"*
                audit_section "$T/segel-$variant.yaml" "sqlite:$T/audit-$variant.db" "sync: $variant"
            fi
            bench_start_daemon "segel-$variant" "$sock" "$SEGEL_MILTER" -c "$T/segel-$variant.yaml"
            pid=$BENCH_DAEMON_PID
            for c in 1 2 8; do
                bench_milter_run "audit-$variant|2kb|c$c" "$sock" "$pid" --message "$T/msg/2kb-rsa.eml" --count "$n" \
                    --seconds "$secs" --concurrency "$c" --warmup 1 --auth siti@dinas.example.go.id \
                    --from siti@dinas.example.go.id --expect modify
                audit__record "$(tail -n 1 "$BENCH_RAW")"
            done
            bench_stop_daemon "$pid"
        done
        [ "$mode" = smoke ] && break
    done
    # Every signed message of the audited runs is in its trail, and the trail verifies.
    for variant in full normal; do
        "$BUILD_SEGELCTL" audit verify --store "sqlite:$T/audit-$variant.db" --seal-cert "$PKI/noreply.crt" \
            >"$T/audit-verify-$variant.out" 2>&1 || { cat "$T/audit-verify-$variant.out" >&2; seg_fail "the $variant trail does not verify"; }
        echo "  ($variant trail: $(head -n 1 "$T/audit-verify-$variant.out"))"
    done
    echo "## append micro-benchmark (segel-bench-audit append)"
    local threads sync out
    for sync in full normal; do
        for threads in 1 8 32; do
            rm -f "$T/micro.db"*
            n=2000
            [ "$sync" = normal ] && n=20000
            [ "$mode" = smoke ] && n=50
            out=$("$BENCH_BIN/segel-bench-audit" append --path "$T/micro.db" --threads "$threads" --count "$n" \
                --sync "$sync" --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass") \
                || seg_fail "segel-bench-audit append failed"
            audit__record "$out"
            echo "  $out"
        done
    done
    [ "$mode" = smoke ] || audit_e2e_runs
    "$SEG_PY" "$REPO/bench/audit_report.py" "$AUDIT_RAW" "$out_dir/audit.json" "$out_dir/audit.md"
}

# audit_e2e_runs: smtp-source -> Postfix -> segel-milter -> smtp-sink, 2 KB, 8 sessions, without the
# trail and with it (sync full and normal), rounds alternating: the issue's own measure.
audit_e2e_runs() {
    local round variant pid n=${AUDIT_E2E_COUNT:-2000}
    echo "## end to end through Postfix, 2 KB, 8 sessions (the trail's cost beside the run without it)"
    bench_start_sink
    seg_start_postfix "delay_logging_resolution_limit = 3"
    sed 's/\r$//' "$T/msg/2kb-rsa.eml" >"$T/msg/2kb-rsa.lf"
    BENCH_FROM=siti@dinas.example.go.id
    for round in 1 2 3; do
        for variant in none full normal; do
            bench_write_config "$T/e2e-$variant.yaml" "$MILTER_SOCK"
            if [ "$variant" != none ]; then
                rm -f "$T/e2e-$variant.db"*
                audit_section "$T/e2e-$variant.yaml" "sqlite:$T/e2e-$variant.db" "sync: $variant"
            fi
            bench_start_daemon "e2e-$variant" "$MILTER_SOCK" "$SEGEL_MILTER" -c "$T/e2e-$variant.yaml"
            pid=$BENCH_DAEMON_PID
            bench_e2e_run "audit-$variant-warmup" 2kb "$T/msg/2kb-rsa.lf" 50 8 "$pid" >/dev/null
            sed -i '$d' "$BENCH_RAW"
            bench_e2e_run "audit-$variant" 2kb "$T/msg/2kb-rsa.lf" "$n" 8 "$pid"
            audit__record "$(tail -n 1 "$BENCH_RAW")"
            bench_stop_daemon "$pid"
        done
    done
}

audit_scale_run() {
    : >"$AUDIT_RAW"
    local count=${AUDIT_SCALE_COUNT:-10000000} db="$T/scale.db" t0 t1 out
    [ "$mode" = smoke ] && count=20000
    echo "## $count events: generate, verify on SQLite, ship to PostgreSQL, verify there"
    timed() { # LABEL CMD...: wall and CPU seconds of CMD, recorded
        local label=$1 tf="$T/time.$RANDOM" m0 m1 machine cpu
        shift
        # The whole machine's CPU too: on PostgreSQL the server's backend does half the work.
        m0=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
        /usr/bin/time -f '%e %U %S' -o "$tf" nice "$@" >"$T/$label.out" 2>&1 || { cat "$T/$label.out" >&2; seg_fail "$label failed"; }
        m1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
        machine=$(awk -v a="$m0" -v b="$m1" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / t }')
        read -r wall user sys <"$tf"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')  # bc would write .5
        audit__record "{\"mode\":\"$label\",\"events\":$count,\"wall_s\":$wall,\"cpu_s\":$cpu,\"machine_cpu_s\":$machine}"
        printf '  %-16s %8.1f s wall %8.1f s CPU %8.1f s machine CPU   %s\n' "$label" "$wall" "$cpu" "$machine" "$(head -c 150 "$T/$label.out" | head -n 1)"
    }
    timed generate "$BENCH_BIN/segel-bench-audit" generate --path "$db" --node bench --count "$count" --every 1000 \
        --batch 100000 --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass"
    audit__record "{\"mode\":\"sqlite-size\",\"bytes\":$(stat -c %s "$db")}"
    echo "  SQLite file: $(($(stat -c %s "$db") / 1024 / 1024)) MB"
    timed verify-sqlite "$BUILD_SEGELCTL" audit verify --store "sqlite:$db" --seal-cert "$PKI/noreply.crt"
    grep -q ': OK: ' "$T/verify-sqlite.out" || seg_fail "the SQLite log did not verify: $(cat "$T/verify-sqlite.out")"
    # A server sized for a 10-million-event catch-up (docs/audit.md's figure was measured so), not
    # the 128 MB of buffers and 1 GB of WAL between checkpoints of a fresh initdb.
    AUDIT_PG_OPTS="-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=30min" audit_start_pg
    audit_pg_setup
    audit_config "$T/ship.yaml" "$AUDIT_PG_URL" "local: $db"
    sed -i 's/^  node: mx1$/  node: bench/' "$T/ship.yaml"
    timed ship "$BUILD_SEGELCTL" audit ship --config "$T/ship.yaml" --once --batch 50000
    timed verify-postgresql "$BUILD_SEGELCTL" audit verify --store "$AUDIT_PG_URL" --seal-cert "$PKI/noreply.crt"
    grep -q ': OK: ' "$T/verify-postgresql.out" || seg_fail "the PostgreSQL log did not verify: $(cat "$T/verify-postgresql.out")"
    audit__record "{\"mode\":\"postgresql-size\",\"bytes\":$(audit_psql -c "SELECT pg_database_size('segel_audit')")}"
    "$SEG_PY" "$REPO/bench/audit_report.py" "$AUDIT_RAW" "$out_dir/audit-scale.json" "$out_dir/audit-scale.md"
}
