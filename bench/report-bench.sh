# shellcheck shell=bash
# bench/report-bench.sh — the supervision report at scale (docs/reports.md, "Scale"), sourced by
# scripts/bench after lib.sh, bench-lib.sh, audit-lib.sh: --only report-scale.
#
#   report_scale_run   REPORT_SCALE_COUNT (default 10 million) events over six months (2026-01-01 …
#                      2026-06-30: 20 units, every kind, refusal reasons, verdicts, incidents) made
#                      by segel-bench-audit generate; a semester report for all units on the
#                      SQLite file (json and html), then on PostgreSQL 15 after `segelctl audit
#                      ship` moved the events there (REPORT_SCALE_PG_LOAD=copy: the shipper starts,
#                      sqlite3 | psql COPY does the rest — shipping 10 million events takes over an
#                      hour on this machine, the report's cost is what is measured); the two reports
#                      must agree. Appends the timings to $out_dir/report-scale.jsonl.
# The store goes under REPORT_SCALE_DIR (default $T): 10 million events are about 8 GB in SQLite
# and as much in PostgreSQL; the directory is removed at the end.

# report__copy_to_pg DB: the shared database as the shipper leaves it, made faster: the shipper
# creates the tables and ships for a few seconds (killed mid-step, which it survives: docs/audit.md),
# then the rest of the events and checkpoints are copied with sqlite3 | psql COPY, the summary
# rows replaced by the node's file's (which count the same events) and the mark moved to the end.
report__copy_to_pg() {
    local db=$1 shipped cps size
    timeout -s KILL 15 "$BUILD_SEGELCTL" audit ship --config "$T/ship.yaml" --once --batch 5000 >/dev/null 2>&1 || true
    shipped=$(audit_psql -c "SELECT shipped FROM audit_nodes WHERE node = 'bench'")
    cps=$(audit_psql -c "SELECT checkpoints FROM audit_nodes WHERE node = 'bench'")
    [ -n "$shipped" ] || { echo "the shipper made no step in 15 s" >&2; return 1; }
    sqlite3 -csv "$db" "SELECT 'bench', idx, time, kind, queue_id, direction, sender, login, client, unit, decision,
        reason_code, verdict, cert_serial, '\\x' || lower(hex(data)), '\\x' || lower(hex(leaf))
        FROM events WHERE idx >= $shipped ORDER BY idx" \
        | audit_psql -c "COPY audit_events FROM STDIN WITH (FORMAT csv, NULL '\\N')" || return 1
    sqlite3 -csv "$db" "SELECT 'bench', seq, size, '\\x' || lower(hex(root)), time, '\\x' || lower(hex(body)),
        '\\x' || lower(hex(signature)), '\\x' || lower(hex(timestamp)) FROM checkpoints WHERE seq >= $cps ORDER BY seq" \
        | audit_psql -c "COPY audit_checkpoints FROM STDIN WITH (FORMAT csv, NULL '\\N')" || return 1
    audit_psql -c "DELETE FROM audit_counts WHERE node = 'bench'" >/dev/null || return 1
    sqlite3 -csv "$db" "SELECT 'bench', hour, unit, kind, decision, reason_code, verdict, n FROM counts" \
        | audit_psql -c "COPY audit_counts FROM STDIN WITH (FORMAT csv, NULL '\\N')" || return 1
    size=$(sqlite3 "$db" "SELECT size FROM state")
    audit_psql -c "UPDATE audit_nodes SET shipped = $size, checkpoints = (SELECT count(*) FROM audit_checkpoints
        WHERE node = 'bench'), last_leaf = (SELECT leaf FROM audit_events WHERE node = 'bench' AND idx = $size - 1)
        WHERE node = 'bench'" >/dev/null
}

report_scale_run() {
    local count=${REPORT_SCALE_COUNT:-10000000} dir=${REPORT_SCALE_DIR:-$T/report-scale} raw="$T/report-raw.jsonl"
    [ "$mode" = smoke ] && count=20000
    mkdir -p "$dir"
    local db="$dir/scale.db" step_ms
    # Six months of 181 days, evenly.
    step_ms=$(( 181 * 86400 * 1000 / count ))
    [ "$step_ms" -ge 1 ] || step_ms=1
    : >"$raw"
    echo "## $count events over 2026-01-01 … 2026-06-30: a semester report on SQLite and PostgreSQL"
    timed() { # LABEL CMD...: wall and CPU seconds of CMD, recorded
        local label=$1 tf="$T/time.$RANDOM" wall user sys
        shift
        /usr/bin/time -f '%e %U %S' -o "$tf" nice "$@" >"$T/$label.out" 2>&1 || { cat "$T/$label.out" >&2; seg_fail "$label failed"; }
        read -r wall user sys <"$tf"
        printf '{"mode":"%s","events":%s,"wall_s":%s,"cpu_s":%s}\n' "$label" "$count" "$wall" "$(echo "$user + $sys" | bc)" >>"$raw"
        printf '  %-22s %8.1f s wall %8.1f s CPU\n' "$label" "$wall" "$(echo "$user + $sys" | bc)"
    }
    timed generate "$BENCH_BIN/segel-bench-audit" generate --path "$db" --node bench --count "$count" --every 1000 \
        --batch 100000 --step-ms "$step_ms" --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass"
    echo "  SQLite file: $(($(stat -c %s "$db") / 1024 / 1024)) MB, $(sqlite3 "$db" 'SELECT count(*) FROM counts') summary rows"
    timed report-sqlite-json "$BUILD_SEGELCTL" report --store "sqlite:$db" --from 2026-01-01 --to 2026-06-30 \
        --format json --out "$T/sqlite.json"
    timed report-sqlite-html "$BUILD_SEGELCTL" report --store "sqlite:$db" --from 2026-01-01 --to 2026-06-30 \
        --format html --out "$T/sqlite.html"
    # The numbers against a plain count over the covered events (one pass over the table).
    local size want
    size=$("$SEG_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["checkpoints"][0]["size"])' "$T/sqlite.json")
    want=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE idx < $size AND time >= 1767225600000000
        AND time < 1782864000000000 AND kind IN ('sign', 'sign+encrypt', 'pass', 'refuse', 'verify', 'decrypt', 'incident')")
    "$SEG_PY" - "$T/sqlite.json" "$want" <<'PY' || seg_fail "the SQLite report does not count the generated events"
import json, sys
r = json.load(open(sys.argv[1])); t = r['total']
counted = t['signed'] + t['signed_encrypted'] + t['sent_unsigned'] + t['refused_total'] + t['verified_total'] - t['decrypted'] + t['incidents_total']
assert counted == int(sys.argv[2]), (counted, sys.argv[2])
print(f"  the report counts {counted} events (as a count over the covered rows does) in {len(r['units'])} units, {len(r['months'])} months")
PY
    audit_start_pg
    audit_pg_setup
    audit_config "$T/ship.yaml" "$AUDIT_PG_URL" "local: $db"
    sed -i 's/^  node: mx1$/  node: bench/' "$T/ship.yaml"
    if [ "${REPORT_SCALE_PG_LOAD:-ship}" = copy ]; then
        local t0
        t0=$(date +%s.%N)
        report__copy_to_pg "$db" || seg_fail "copying the events to PostgreSQL failed"
        printf '{"mode":"load-postgresql","events":%s,"wall_s":%s}\n' "$count" "$(echo "$(date +%s.%N) - $t0" | bc)" >>"$raw"
        printf '  %-22s %8.1f s wall\n' load-postgresql "$(echo "$(date +%s.%N) - $t0" | bc)"
    else
        timed ship "$BUILD_SEGELCTL" audit ship --config "$T/ship.yaml" --once --batch 50000
    fi
    echo "  PostgreSQL: $(audit_psql -c "SELECT count(*) FROM audit_events") events, $(audit_psql -c "SELECT count(*) FROM audit_counts") summary rows"
    timed report-postgresql-json "$BUILD_SEGELCTL" report --store "$AUDIT_PG_URL" --from 2026-01-01 --to 2026-06-30 \
        --format json --out "$T/pg.json"
    "$SEG_PY" - "$T/sqlite.json" "$T/pg.json" <<'PY' || seg_fail "PostgreSQL and SQLite reports differ"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a['total'] == b['total'] and a['units'] == b['units']
PY
    audit_stop_pg
    cp "$raw" "$out_dir/report-scale.jsonl"
    rm -rf "$dir"
}
