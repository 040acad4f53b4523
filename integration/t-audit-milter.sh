#!/usr/bin/env bash
# The audit trail in segel-milter (docs/audit.md): through a real Postfix, every decision is an
# event committed before the milter answers — a signed message (its certificate and content hash),
# a refusal (its SMTP reply) — plus start, reload and stop; never the content. kill -9 of the
# milter under load: every message Postfix accepted has its event, and the log still verifies.
# A store that cannot be written defers the mail (451, audit.on_failure: tempfail).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"

seg_setup audit-milter
seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
seg_add_user budi budi-pw
DB="$T/audit.db"
C="$SEG_CONFIG"
audit_config "$C" "sqlite:$DB" "checkpoint: {events: 100, minutes: 60}"
# smtp-source cannot authenticate: 127.0.0.1 is a system sender that may send as siti (bench-lib.sh does the same).
sed -i "s/^    - client: 127.0.0.5$/    - clients: [127.0.0.5, 127.0.0.1]/; s/^      may_send_as: \[noreply@dinas.example.go.id\]$/      may_send_as: [noreply@dinas.example.go.id, siti@dinas.example.go.id]/" "$C"
grep -q 'may_send_as: \[noreply@dinas.example.go.id, siti@dinas.example.go.id\]' "$C" || seg_fail "test bug: systems entry not changed"
seg_start_milter "$C"
ev() { sqlite3 "$DB" "$1"; }

# --- one signed message, one refusal -------------------------------------------------------------
seg_make_message "$T/siti.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Undangan" "Isi rahasia: rapat koordinasi X-17."
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
seg_expect_reply '^250 '
qid=$(printf '%s\n' "$SEG_REPLY" | sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p')
[ -n "$qid" ] || seg_fail "no queue id in '$SEG_REPLY'"
seg_wait_delivered 1
seg_delivered_copy "$T/out.eml"
serial=$(seg_verify_openssl "$T/out.eml" >/dev/null && seg_signer_serial)
row=$(ev "SELECT kind, sender, login, cert_serial, unit FROM events WHERE queue_id = '$qid'")
[ "$row" = "sign|siti@$DINAS|siti@$DINAS|$serial|$DINAS" ] || seg_fail "the event of $qid is '$row', expected sign|siti@$DINAS|siti@$DINAS|$serial|$DINAS"
"$SEGELCTL" audit show --config "$C" --queue-id "$qid" --json >"$T/show.json" 2>/dev/null
grep -q '"content_sha256":"[0-9a-f]\{64\}"' "$T/show.json" || { cat "$T/show.json" >&2; seg_fail "the sign event has no content SHA-256"; }
grep -q '"cert_fingerprint":"[0-9a-f]\{64\}"' "$T/show.json" || seg_fail "the sign event has no certificate fingerprint"
seg_send "siti@$DINAS" - warga@contoh.example --auth budi budi-pw --data-file "$T/siti.eml"
seg_expect_reply '^550 '
[ "$(ev "SELECT count(*) FROM events WHERE kind = 'refuse' AND login = 'budi' AND decision = 'reject'")" -eq 1 ] \
    || seg_fail "the refusal of budi sending as siti was not recorded"
"$SEGELCTL" audit show --config "$C" --kind refuse >"$T/refuse.out" 2>/dev/null
grep -q 'reply="550 5.7.1 login budi may not send as siti@dinas.example.go.id"' "$T/refuse.out" \
    || { cat "$T/refuse.out" >&2; seg_fail "the refusal event does not hold its SMTP reply"; }
if grep -aq 'rapat koordinasi X-17' "$DB" "$DB-wal" 2>/dev/null; then seg_fail "message content reached the audit trail"; fi
[ "$(ev "SELECT kind FROM events ORDER BY idx LIMIT 1")" = start ] || seg_fail "the first event is not the start"
ev "SELECT count(*) FROM events WHERE kind = 'start' AND length(data) > 0" | grep -qx 1 || seg_fail "no start event"
seg_ok "signed message $qid recorded (certificate $serial, content SHA-256), the refusal with its reply, no content"

# --- reload ---------------------------------------------------------------------------------------
kill -USR1 "$SEG_MILTER_PID"
for _ in $(seq 50); do [ "$(ev "SELECT count(*) FROM events WHERE kind = 'reload'")" -ge 1 ] && break; sleep 0.1; done
[ "$(ev "SELECT count(*) FROM events WHERE kind = 'reload'")" -eq 1 ] || seg_fail "no reload event after SIGUSR1"
seg_ok "SIGUSR1: a reload event with the configuration's hash and the credentials loaded"

# --- kill -9 right after an answer ----------------------------------------------------------------
# The 250 came back, so the milter answered; killed at once, before it can do anything else, the
# event of that message is in the file all the same (it was committed before the answer).
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
kill -KILL "$SEG_MILTER_PID"
seg_expect_reply '^250 '
qid=$(printf '%s\n' "$SEG_REPLY" | sed -n 's/.*queued as \([0-9A-F]*\).*/\1/p')
[ -n "$qid" ] || seg_fail "no queue id in '$SEG_REPLY'"
wait "$SEG_MILTER_PID" 2>/dev/null || true
SEG_MILTER_PID=""
[ "$(ev "SELECT count(*) FROM events WHERE queue_id = '$qid' AND kind = 'sign'")" -eq 1 ] \
    || seg_fail "the milter was killed right after answering for $qid, and its sign event is not in the trail"
seg_start_milter "$C"
seg_ok "kill -9 right after the answer for $qid: its sign event is in the trail"

# --- kill -9 under load ---------------------------------------------------------------------------
seg_make_message "$T/load.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Beban" "Pesan beban."
smtp-source -s 8 -m 400 -f "siti@$DINAS" -t kepala@mitra.example -F "$T/load.eml" "127.0.0.1:$SMTP_PORT" \
    >"$T/smtp-source.log" 2>&1 &
src=$!
for _ in $(seq 300); do [ "$(ev "SELECT count(*) FROM events WHERE kind = 'sign'")" -ge 60 ] && break; sleep 0.1; done
kill -KILL "$SEG_MILTER_PID"
SEG_MILTER_PID=""
wait "$src" 2>/dev/null || true
sleep 2  # Postfix logs what it accepted; anything in flight at the kill was tempfailed
# Every message Postfix accepted (qmgr picked it up) must have its sign event, by queue id.
grep -E 'postfix/qmgr\[[0-9]+\]: [0-9A-F]+: from=<siti@' "$T/maillog" | sed -E 's/.*: ([0-9A-F]+): from=.*/\1/' \
    | sort -u >"$T/accepted"
ev "SELECT queue_id FROM events WHERE kind = 'sign'" | sort -u >"$T/recorded"
missing=$(comm -23 "$T/accepted" "$T/recorded" | wc -l)
[ "$(wc -l <"$T/accepted")" -gt 50 ] || seg_fail "only $(wc -l <"$T/accepted") messages were accepted before the kill"
[ "$missing" -eq 0 ] || { comm -23 "$T/accepted" "$T/recorded" | head >&2; seg_fail "$missing accepted message(s) have no event"; }
deferred=$(grep -c 'milter-reject\|451 4' "$T/maillog" || true)
audit_expect_ok --config "$C"
AUDIT_PY_SQLITE=$DB audit_expect_ok --config "$C"
seg_ok "kill -9 under load: all $(wc -l <"$T/accepted") accepted messages have their event; $deferred deferred lines; the log verifies"

# --- a store that cannot be written defers the mail -----------------------------------------------
seg_start_milter "$C"
# Another process holds the write lock longer than the trail waits for it (10 s).
sqlite3 "$DB" "BEGIN IMMEDIATE" ".shell sleep 13" "COMMIT" >/dev/null 2>&1 &
locker=$!
sleep 0.5
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
wait "$locker" || true
seg_expect_reply '^451 4\.3\.0 segel: cannot record this message in the audit trail'
grep -q 'audit: cannot record the sign decision: .*deferred (audit.on_failure: tempfail)' "$T/milter.log" \
    || seg_fail "the milter did not log why it deferred"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
seg_expect_reply '^250 '
seg_ok "a locked store: 451 (nothing signed leaves unrecorded); unlocked: 250 again"

# --- stop -----------------------------------------------------------------------------------------
# libmilter notices SIGTERM within a few seconds; give it time rather than seg_stop_milter's kill.
pid=$SEG_MILTER_PID
kill -TERM "$pid"
for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && seg_fail "segel-milter did not stop within 30 s of SIGTERM"
SEG_MILTER_PID=""
grep -q 'stopped socket=' "$T/milter.log" || seg_fail "segel-milter did not stop cleanly"
[ "$(ev "SELECT kind FROM events ORDER BY idx DESC LIMIT 1")" = checkpoint ] || seg_fail "the trail does not end with the stop's checkpoint"
[ "$(ev "SELECT kind FROM events ORDER BY idx DESC LIMIT 1 OFFSET 1")" = stop ] || seg_fail "no stop event"
AUDIT_PY_SQLITE=$DB audit_expect_ok --config "$C"
seg_ok "SIGTERM: a stop event and a last checkpoint over everything; both verifiers agree"
