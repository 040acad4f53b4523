#!/usr/bin/env bash
# The audit trail on SQLite (docs/audit.md): an untouched log passes `segelctl audit verify` and the
# independent verifier (scripts/segel-audit-verify: Python and openssl only); every kind of
# tampering — a field, a column, a deleted, renumbered, swapped or inserted event, a truncated log,
# a changed or re-signed checkpoint, the summary table — fails both, naming the same first bad
# event or checkpoint. Proofs made by `segelctl audit prove` check out independently; show and
# export find events; a bad audit: section is refused with its line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"

seg_setup audit
[ -x "$SEGELCTL" ] || seg_fail "segelctl binary not found: $SEGELCTL"
DB="$T/audit.db"
audit_config "$T/segel.yaml" "sqlite:$DB" "checkpoint: {events: 50}"
C="$T/segel.yaml"
# 300 events; checkpoint k covers 51k + 50 events (its own record follows it).
audit_generate "$DB" 300 50
cp "$DB" "$T/pristine.db"

AUDIT_PY_SQLITE=$DB audit_expect_ok --config "$C"
seg_ok "an untouched log of $(sqlite3 "$DB" 'SELECT count(*) FROM events') events: both verifiers say OK"

# --- show, prove, export ---------------------------------------------------------------------------
"$SEGELCTL" audit show --config "$C" --limit 5 >"$T/show.out" 2>&1 || { cat "$T/show.out" >&2; seg_fail "audit show failed"; }
[ "$(grep -c ' 2026-01-01T' "$T/show.out")" -eq 5 ] || { cat "$T/show.out" >&2; seg_fail "audit show --limit 5 did not list 5 events"; }
qid=$(sqlite3 "$DB" "SELECT queue_id FROM events WHERE idx = 70")
sender=$(sqlite3 "$DB" "SELECT sender FROM events WHERE idx = 70")
"$SEGELCTL" audit show --config "$C" --queue-id "$qid" >"$T/show-qid.out" 2>/dev/null
grep -q "^70 .* qid=$qid" "$T/show-qid.out" || { cat "$T/show-qid.out" >&2; seg_fail "audit show --queue-id $qid does not find event 70"; }
want=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE sender = '$sender'")
"$SEGELCTL" audit show --config "$C" --sender "$sender" --json >"$T/show-sender.out" 2>/dev/null
[ "$(wc -l <"$T/show-sender.out")" -eq "$want" ] || seg_fail "audit show --sender $sender: $(wc -l <"$T/show-sender.out") lines, the store has $want"
"$SEG_PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/show-sender.out" \
    || seg_fail "audit show --json is not JSON lines"
"$SEGELCTL" audit show --config "$C" --since 2026-01-01T00:10:00Z --until 2026-01-01T00:11:00Z >"$T/show-since.out" 2>/dev/null
want=$(sqlite3 "$DB" "SELECT count(*) FROM events WHERE time >= 1767226200000000 AND time < 1767226260000000")
[ "$want" -ge 20 ] || seg_fail "test bug: expected about 20 events in 00:10..00:11, the store has $want"
[ "$(wc -l <"$T/show-since.out")" -eq "$want" ] || { cat "$T/show-since.out" >&2; seg_fail "audit show --since/--until: expected the $want events of that minute"; }
seg_ok "audit show finds events by queue id, sender (JSON) and time"

"$SEGELCTL" audit prove 70 --config "$C" >"$T/proof.json" 2>"$T/prove.err" || { cat "$T/prove.err" >&2; seg_fail "audit prove 70 failed"; }
"$SEG_PY" "$AUDIT_VERIFY" proof "$T/proof.json" --seal-cert "$PKI/noreply.crt" >"$T/proof.out" 2>&1 \
    || { cat "$T/proof.out" >&2; seg_fail "the independent verifier rejects segelctl's inclusion proof"; }
grep -q '^OK: event 70 of mx1' "$T/proof.out" || { cat "$T/proof.out" >&2; seg_fail "proof check did not name event 70"; }
# A proof for another event's bytes does not pass.
"$SEG_PY" - "$T/proof.json" "$T/proof-bad.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["index"] = 71
json.dump(p, open(sys.argv[2], "w"))
PY
if "$SEG_PY" "$AUDIT_VERIFY" proof "$T/proof-bad.json" --seal-cert "$PKI/noreply.crt" >"$T/proof-bad.out" 2>&1; then
    seg_fail "a proof claiming another event number passed"
fi
"$SEGELCTL" audit prove --consistency 1 --to 4 --config "$C" >"$T/consistency.json" 2>/dev/null
"$SEG_PY" "$AUDIT_VERIFY" proof "$T/consistency.json" --seal-cert "$PKI/noreply.crt" >"$T/consistency.out" 2>&1 \
    || { cat "$T/consistency.out" >&2; seg_fail "the independent verifier rejects the consistency proof 1 -> 4"; }
seg_ok "inclusion proof of event 70 and consistency proof 1 -> 4 check out in the independent verifier; a forged one does not"

audit_expect_ok --store "sqlite:$DB" --seal-cert "$PKI/noreply.crt"
seg_ok "the export (JSON lines with the signed bytes) verifies independently too"

# --- tampering -----------------------------------------------------------------------------------
# Event 70 lies in checkpoint 1's window (events 51..100; checkpoint 1 covers 101).
tamper() { "$SEG_PY" "$AUDIT_TAMPER" "$1" "$DB" "${@:2}"; }
for spec in "field:70:at event 70" "field-rehash:70:at event 70" "column:70:at event 70" \
    "delete:70:at event 70" "renumber:70:at event 70" "swap:70:at event 70" "insert:70:at event 70" \
    "truncate:70:at event 70"; do
    IFS=: read -r case ev what <<<"$spec"
    cp "$T/pristine.db" "$DB"
    tamper "$case" "$ev" || seg_fail "audit_tamper.py $case failed"
    AUDIT_PY_SQLITE=$DB audit_expect_bad "$case" "$what" --config "$C"
done
cp "$T/pristine.db" "$DB"
tamper checkpoint-text 2
AUDIT_PY_SQLITE=$DB audit_expect_bad "checkpoint text changed" "at checkpoint 2" --config "$C"
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.crt" 2>/dev/null
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nocerts -nodes -out "$T/siti.key" 2>/dev/null
cp "$T/pristine.db" "$DB"
tamper checkpoint-signer 2 "$T/siti.crt" "$T/siti.key"
AUDIT_PY_SQLITE=$DB audit_expect_bad "checkpoint re-signed by staff" "at checkpoint 2" --config "$C"
grep -q 'not a configured seal' "$T/verify-checkpoint re-signed by staff.c" || seg_fail "segelctl does not say the signer is not a seal"
cp "$T/pristine.db" "$DB"
tamper counts
AUDIT_PY_SQLITE=$DB audit_expect_bad "summary table changed" "" --config "$C"

# The append-only triggers stop plain SQL before any of this.
cp "$T/pristine.db" "$DB"
if sqlite3 "$DB" "DELETE FROM events WHERE idx = 3" 2>"$T/trigger.err"; then seg_fail "DELETE on events succeeded"; fi
grep -q 'append-only' "$T/trigger.err" || { cat "$T/trigger.err" >&2; seg_fail "DELETE was not refused as append-only"; }
seg_ok "plain SQL UPDATE/DELETE is refused by the append-only triggers"

# --- the witnesses' copy exposes a truncation that took the checkpoints with it ----------------------
cp "$T/pristine.db" "$DB"
sqlite3 "$DB" "SELECT writefile('$T/cp3.txt', body), writefile('$T/cp3.p7s', signature) FROM checkpoints WHERE seq = 3" >/dev/null
"$SEG_PY" - "$DB" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for t in ("events_no_delete", "checkpoints_no_delete"):
    con.execute("DROP TRIGGER " + t)
con.execute("DELETE FROM events WHERE idx >= 120")
con.execute("DELETE FROM checkpoints WHERE seq >= 2")
con.execute("DELETE FROM counts")
con.execute("INSERT INTO counts SELECT time / 3600000000, unit, kind, decision, reason_code, verdict, count(*) "
            "FROM events GROUP BY 1, 2, 3, 4, 5, 6")
con.commit()
PY
AUDIT_PY_SQLITE=$DB audit_expect_ok --config "$C"
rc=0
"$SEGELCTL" audit verify --config "$C" --witnessed "$T/cp3.txt" >"$T/witnessed.c" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'FAILED at event 120: .*witnesses hold checkpoint 3' "$T/witnessed.c" \
    || { cat "$T/witnessed.c" >&2; seg_fail "verify --witnessed did not expose the truncation"; }
rc=0
"$SEG_PY" "$AUDIT_VERIFY" log --sqlite "$DB" --seal-cert "$PKI/noreply.crt" --witnessed "$T/cp3.txt" >"$T/witnessed.py" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q 'FAILED at event 120' "$T/witnessed.py" \
    || { cat "$T/witnessed.py" >&2; seg_fail "segel-audit-verify --witnessed did not expose the truncation"; }
seg_ok "a truncation that also removed checkpoints passes locally, and fails against the witnesses' checkpoint 3"

# --- configuration -------------------------------------------------------------------------------
printf '%s\n' 'audit:' '  store: sqlite:relative.db' >"$T/bad-tail.yaml"
seg_write_config "$T/bad.yaml"
cat "$T/bad-tail.yaml" >>"$T/bad.yaml"
line=$(grep -n 'store: sqlite:relative.db' "$T/bad.yaml" | cut -d: -f1)
rc=0
"$SEGELCTL" audit verify --config "$T/bad.yaml" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || { cat "$T/bad.out" >&2; seg_fail "a bad audit.store: exit $rc, expected 78"; }
grep -q "^$T/bad.yaml:$line:[0-9]*: audit.store: " "$T/bad.out" || { cat "$T/bad.out" >&2; seg_fail "the error does not point at line $line"; }
rc=0
"$SEGELCTL" check-config "$T/bad.yaml" >"$T/bad2.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] || { cat "$T/bad2.out" >&2; seg_fail "segelctl check-config accepts a bad audit.store (exit $rc)"; }
chmod 644 "$PKI/noreply.pass"
rc=0
"$SEGELCTL" audit verify --config "$C" >"$T/perm.out" 2>&1 || rc=$?
[ "$rc" -eq 78 ] && grep -q 'audit.seal.passphrase_file' "$T/perm.out" || { cat "$T/perm.out" >&2; seg_fail "a world-readable seal passphrase was not refused at audit.seal.passphrase_file"; }
chmod 600 "$PKI/noreply.pass"
seg_ok "a bad audit section and a readable seal passphrase are refused with exit 78 at their line"
