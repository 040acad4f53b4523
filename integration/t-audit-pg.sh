#!/usr/bin/env bash
# The shared audit database (docs/audit.md, "Several nodes"): two nodes write their own SQLite files
# and `segelctl audit ship` moves their events to a real PostgreSQL 15. The shared database then
# verifies — with segelctl and with the independent verifier on a psql export — for both nodes
# (each with its own seal). Stopping and starting PostgreSQL while the shipper runs, and killing
# the shipper in the middle of a backlog, lose and duplicate nothing. Tampering in the shared
# database is named by both verifiers; a local file that disagrees with it is not shipped.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"

seg_setup audit-pg
# segelctl reads a node in pages of the primary key (a million events); pages of 64 here, so
# every verify, show and tamper case below crosses page boundaries (the deleted event too).
export SEGEL_AUDIT_PG_PAGE=64
audit_start_pg
audit_pg_setup
openssl pkcs12 -in "$PKI/sekretariat.p12" -passin "file:$PKI/sekretariat.pass" -nokeys -clcerts \
    -out "$T/sekretariat.crt" 2>/dev/null
audit_config "$T/mx1.yaml" "$AUDIT_PG_URL" "local: $T/mx1.db" "seal_certificates: [$T/sekretariat.crt]"
audit_config "$T/mx2.yaml" "$AUDIT_PG_URL" "local: $T/mx2.db"
sed -i "s/^  node: mx1$/  node: mx2/; s|$PKI/noreply.p12|$PKI/sekretariat.p12|; s|$PKI/noreply.pass|$PKI/sekretariat.pass|" "$T/mx2.yaml"
audit_generate "$T/mx1.db" 2000 100
"$SEGEL_BENCH_AUDIT" generate --path "$T/mx2.db" --node mx2 --count 1500 --every 100 \
    --seal-p12 "$PKI/sekretariat.p12" --seal-pass "$PKI/sekretariat.pass" >/dev/null
local_count() { sqlite3 "$1" "SELECT count(*) FROM events"; }
shared_count() { audit_psql -c "SELECT count(*) FROM audit_events WHERE node = '$1'"; }

for n in mx1 mx2; do
    rc=0
    "$SEGELCTL" audit ship --config "$T/$n.yaml" --once >"$T/ship-$n.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || { cat "$T/ship-$n.out" >&2; seg_fail "audit ship --once for $n exited $rc"; }
    [ "$(shared_count $n)" -eq "$(local_count "$T/$n.db")" ] \
        || seg_fail "$n: the shared database has $(shared_count $n) events, the local file $(local_count "$T/$n.db")"
done
seg_ok "two nodes shipped: $(shared_count mx1) + $(shared_count mx2) events in PostgreSQL"

# verify_shared NAME: both verifiers accept the shared database (both nodes).
verify_shared() {
    rc=0
    "$SEGELCTL" audit verify --config "$T/mx1.yaml" >"$T/verify-$1.c" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && [ "$(grep -c ': OK: ' "$T/verify-$1.c")" -eq 2 ] \
        || { cat "$T/verify-$1.c" >&2; seg_fail "$1: segelctl audit verify on PostgreSQL exited $rc"; }
    audit_pg_export "$T/export-$1.jsonl"
    rc=0
    "$SEG_PY" "$AUDIT_VERIFY" log --export "$T/export-$1.jsonl" --seal-cert "$PKI/noreply.crt" \
        --seal-cert "$T/sekretariat.crt" >"$T/verify-$1.py" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] && [ "$(grep -c ': OK: ' "$T/verify-$1.py")" -eq 2 ] \
        || { cat "$T/verify-$1.py" >&2; seg_fail "$1: the independent verifier rejects the psql export (exit $rc)"; }
}
verify_shared shipped
seg_ok "the shared database verifies for both nodes: segelctl, and segel-audit-verify on a psql export"

# Shipping again moves nothing.
"$SEGELCTL" audit ship --config "$T/mx1.yaml" --once >"$T/ship-again.out" 2>&1
grep -q '^mx1: 0 event(s) shipped' "$T/ship-again.out" || { cat "$T/ship-again.out" >&2; seg_fail "a second ship moved events again"; }

# --- the shipper follows while PostgreSQL goes away and comes back, and is killed mid-backlog -------
"$SEGELCTL" audit ship --config "$T/mx1.yaml" --interval 1 --batch 300 >"$T/shipper.log" 2>&1 &
AUDIT_SHIPPER_PID=$!
wait_shipped() { # NODE: until the shared database has every local event (at most 60 s)
    for _ in $(seq 600); do
        [ "$(shared_count "$1")" -eq "$(local_count "$T/$1.db")" ] && return 0
        kill -0 "$AUDIT_SHIPPER_PID" 2>/dev/null || { cat "$T/shipper.log" >&2; seg_fail "the shipper exited"; }
        sleep 0.1
    done
    cat "$T/shipper.log" >&2
    seg_fail "$1: the shipper did not catch up: $(shared_count "$1") of $(local_count "$T/$1.db") events shipped"
}
more_events() { # NODE COUNT: COUNT events appended to the node's file through the store's append
    "$SEGEL_BENCH_AUDIT" generate --path "$T/$1.db" --node "$1" --count "$2" --every 100 --batch 50 \
        --start 1767312000 --seal-p12 "$PKI/noreply.p12" --seal-pass "$PKI/noreply.pass" >/dev/null
}
more_events mx1 500
wait_shipped mx1
audit_stop_pg
more_events mx1 700
sleep 2
grep -q 'retrying every 1 s' "$T/shipper.log" || { cat "$T/shipper.log" >&2; seg_fail "the shipper did not notice the database was gone"; }
audit_start_pg
wait_shipped mx1
grep -q 'is reachable again' "$T/shipper.log" || { cat "$T/shipper.log" >&2; seg_fail "the shipper did not say it reconnected"; }
seg_ok "PostgreSQL stopped and started under a running shipper: every event arrived ($(shared_count mx1))"
more_events mx1 10000
sleep 0.5
kill -KILL "$AUDIT_SHIPPER_PID"
wait "$AUDIT_SHIPPER_PID" 2>/dev/null || true
AUDIT_SHIPPER_PID=""
partial=$(shared_count mx1)
"$SEGELCTL" audit ship --config "$T/mx1.yaml" --once >"$T/ship-resume.out" 2>&1 \
    || { cat "$T/ship-resume.out" >&2; seg_fail "audit ship --once after kill -9 failed"; }
[ "$(shared_count mx1)" -eq "$(local_count "$T/mx1.db")" ] || seg_fail "after kill -9 and a restart: $(shared_count mx1) of $(local_count "$T/mx1.db") shipped"
dups=$(audit_psql -c "SELECT count(*) - count(DISTINCT idx) FROM audit_events WHERE node = 'mx1'")
maxi=$(audit_psql -c "SELECT max(idx) + 1 - count(*) FROM audit_events WHERE node = 'mx1'")
[ "$dups" -eq 0 ] && [ "$maxi" -eq 0 ] || seg_fail "duplicated ($dups) or missing ($maxi) events in the shared database"
audit_psql -c "SELECT count(*) FROM audit_checkpoints WHERE node = 'mx1'" >"$T/cps.shared"
sqlite3 "$T/mx1.db" "SELECT count(*) FROM checkpoints" >"$T/cps.local"
cmp -s "$T/cps.shared" "$T/cps.local" || seg_fail "checkpoints: shared $(cat "$T/cps.shared"), local $(cat "$T/cps.local")"
verify_shared after-outage
seg_ok "shipper killed with $partial of $(local_count "$T/mx1.db") shipped, restarted: nothing lost, nothing duplicated, both verify"

# --- SIGTERM while catching up a backlog: the shipper stops after the batch it is in ----------------
more_events mx1 30000
before=$(shared_count mx1)
"$SEGELCTL" audit ship --config "$T/mx1.yaml" --interval 1 --batch 100 >"$T/shipper-term.log" 2>&1 &
AUDIT_SHIPPER_PID=$!
for _ in $(seq 600); do
    [ "$(shared_count mx1)" -gt "$before" ] && break
    sleep 0.05
done
kill -TERM "$AUDIT_SHIPPER_PID"
rc=0
wait "$AUDIT_SHIPPER_PID" || rc=$?
AUDIT_SHIPPER_PID=""
stopped_at=$(shared_count mx1)
[ "$rc" -eq 0 ] || { cat "$T/shipper-term.log" >&2; seg_fail "the shipper exited $rc on SIGTERM"; }
grep -q 'stopped after shipping' "$T/shipper-term.log" || { cat "$T/shipper-term.log" >&2; seg_fail "the shipper did not say it stopped"; }
[ "$stopped_at" -lt "$(local_count "$T/mx1.db")" ] \
    || seg_fail "SIGTERM during a backlog: the shipper went on to ship all $stopped_at events before stopping"
[ $(((stopped_at - before) % 100)) -eq 0 ] || seg_fail "SIGTERM: $((stopped_at - before)) events shipped, not whole batches of 100"
"$SEGELCTL" audit ship --config "$T/mx1.yaml" --once >"$T/ship-term-resume.out" 2>&1 \
    || { cat "$T/ship-term-resume.out" >&2; seg_fail "audit ship --once after SIGTERM failed"; }
dups=$(audit_psql -c "SELECT count(*) - count(DISTINCT idx) FROM audit_events WHERE node = 'mx1'")
[ "$(shared_count mx1)" -eq "$(local_count "$T/mx1.db")" ] && [ "$dups" -eq 0 ] \
    || seg_fail "after SIGTERM and a restart: $(shared_count mx1) of $(local_count "$T/mx1.db") shipped, $dups duplicated"
seg_ok "SIGTERM mid-backlog: stopped after whole batches ($((stopped_at - before)) of 30000), resumed: nothing lost or duplicated"

# --- tampering in the shared database --------------------------------------------------------------
pg_tamper_case() { # NAME NODE WHAT SQL: the other node must still verify
    local name=$1 node=$2 what=$3 other=mx1
    [ "$node" = mx1 ] && other=mx2
    audit_psql -c "BEGIN; ALTER TABLE audit_events DISABLE TRIGGER USER; $4; COMMIT;" >/dev/null
    rc=0
    "$SEGELCTL" audit verify --config "$T/mx1.yaml" --node "$node" >"$T/pg-$name.c" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] && grep -q "^$node: FAILED $what:" "$T/pg-$name.c" \
        || { cat "$T/pg-$name.c" >&2; seg_fail "$name: segelctl on PostgreSQL: exit $rc, expected FAILED $what"; }
    audit_pg_export "$T/pg-$name.jsonl"
    rc=0
    "$SEG_PY" "$AUDIT_VERIFY" log --export "$T/pg-$name.jsonl" --seal-cert "$PKI/noreply.crt" \
        --seal-cert "$T/sekretariat.crt" >"$T/pg-$name.py" 2>&1 || rc=$?
    [ "$rc" -eq 1 ] && grep -q "^$node: FAILED $what:" "$T/pg-$name.py" \
        || { cat "$T/pg-$name.py" >&2; seg_fail "$name: segel-audit-verify on the psql export: exit $rc"; }
    seg_ok "$name in PostgreSQL: both name $what of $node ($(head -c 100 "$T/pg-$name.c"))"
}
pg_tamper_case "a field changed" mx1 "at event 70" \
    "UPDATE audit_events SET data = overlay(data placing '\\x41'::bytea from 60 for 1) WHERE node = 'mx1' AND idx = 70"
pg_tamper_case "an event deleted" mx2 "at event 71" "DELETE FROM audit_events WHERE node = 'mx2' AND idx = 71"

# --- a local file that disagrees with the shared database is not shipped ---------------------------
cp "$T/mx2.db" "$T/mx2.saved"
rm -f "$T/mx2.db" "$T/mx2.db-wal" "$T/mx2.db-shm"
"$SEGEL_BENCH_AUDIT" generate --path "$T/mx2.db" --node mx2 --count 1600 --every 100 --start 1767312000 \
    --seal-p12 "$PKI/sekretariat.p12" --seal-pass "$PKI/sekretariat.pass" >/dev/null
rc=0
"$SEGELCTL" audit ship --config "$T/mx2.yaml" --once >"$T/ship-disagree.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'disagree about event' "$T/ship-disagree.out" \
    || { cat "$T/ship-disagree.out" >&2; seg_fail "a replaced local file was shipped (exit $rc)"; }
seg_ok "a replaced local file is refused by the shipper: $(cat "$T/ship-disagree.out")"
