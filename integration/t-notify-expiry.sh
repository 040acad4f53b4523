#!/usr/bin/env bash
# Expiry notices end to end (R5): `segelctl notify-expiry`, with the clock moved by faketime (the
# responders too, so that their answers are current in the same world), mails the owner and the OPD
# administrators through the local Postfix, signed as notices.sign_as (openssl checks the
# signature), in Indonesian with English below; each (certificate, threshold) once: a rerun and a
# second run at the same moment send nothing more, a failed send is retried by the next run; the
# certificate's expiry itself is announced, and so is the OCSP responder's certificate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle-lib.sh"

seg_setup notify-expiry
lc_setup
seg_start_sink
seg_start_postfix
STATE="$T/state/notices.sqlite"
mkdir -p "$T/state"
NOTICES="notices:
  sign_as: noreply@$DINAS
  relay: 127.0.0.1:$SMTP_PORT
  state_file: $STATE
  administrators: [kominfo@examplekab.go.id]
  domains:
    - domain: $DINAS
      administrators: [admin@$DINAS]"
SYSTEMS="  systems:
    - name: segel notices
      client: 127.0.0.1
      may_send_as: [noreply@$DINAS]"
# The standard lifecycle configuration, with this host as the system sender of the notices (the milter
# sees them from 127.0.0.1 without SMTP AUTH; already signed, they pass unchanged).
write() { # FILE NOTICES-YAML
    lc_config "$1" "segera seal" "$2"
    "$SEG_PY" - "$1" "$SYSTEMS" <<'EOF'
import sys
f, systems = sys.argv[1], sys.argv[2]
text = open(f).read().replace("    - domain: dinas.example.go.id\n", "    - domain: dinas.example.go.id\n" + systems + "\n", 1)
open(f, "w").write(text)
EOF
}
write "$SEG_CONFIG" "$NOTICES"
seg_start_milter
delivered=0

# at OFFSET: the responders' clock moved by OFFSET too (lifecycle-lib.sh); notify OFFSET [CONFIG]: one
# notify-expiry run with the clock moved by OFFSET, output in $T/notify.out.
at() { lc_responders_at "$1"; }
notify() {
    local rc=0
    lc_faketime "$1" "$SEGELCTL" notify-expiry --config "${2:-$SEG_CONFIG}" >"$T/notify.out" 2>&1 || rc=$?
    return "$rc"
}
expect_count() { # N: the sink holds exactly N messages (after a moment for stragglers)
    sleep 1.5
    [ "$(seg_sink_count)" -eq "$1" ] || seg_fail "the sink holds $(seg_sink_count) notices, expected $1"
}

SEGERA=$(lc_serial segera)

# --- 1. nothing due 100 days ahead -------------------------------------------------------------------
notify +0 || { cat "$T/notify.out"; seg_fail "notify-expiry failed with nothing due"; }
grep -q "no expiry notice is due" "$T/notify.out" || { cat "$T/notify.out"; seg_fail "expected nothing due"; }
expect_count 0
seg_ok "100 days before expiry: nothing due"

# --- 2. 85 days left: the 90-day notice, to the owner and both administrators, signed -------------------
at +15d
notify +15d || { cat "$T/notify.out"; seg_fail "notify-expiry +15 d failed"; }
grep -q "^sent: signing certificate $SEGERA (segera@$DINAS), 90-day notice -> segera@$DINAS, admin@$DINAS, kominfo@examplekab.go.id$" "$T/notify.out" \
    || { cat "$T/notify.out"; seg_fail "the 90-day notice was not sent to the three recipients"; }
seg_wait_delivered $((delivered += 1))
raw=$(seg_last_delivered)
for r in "segera@$DINAS" "admin@$DINAS" kominfo@examplekab.go.id; do
    grep -q "^X-Rcpt-Args: <$r>" "$raw" || seg_fail "the notice did not reach $r"
done
seg_delivered_copy "$T/n90.eml"
lc_expect_signed "$T/n90.eml" "noreply@$DINAS"
seg_expect_header "$T/n90.eml" Subject "^\[segel\] Sertifikat elektronik berakhir dalam 8[45] hari: segera@$DINAS / Certificate expires in 8[45] days$"
seg_expect_header "$T/n90.eml" From "^segel <noreply@$DINAS>$"
seg_expect_header "$T/n90.eml" Auto-Submitted '^auto-generated$'
openssl cms -verify -in "$T/n90.eml" -CAfile "$LC/root.pem" -purpose smimesign -out "$T/n90.txt" 2>/dev/null
id_line=$(grep -n "akan berakhir pada" "$T/n90.txt" | head -n 1 | cut -d: -f1)
en_line=$(grep -n "expires on" "$T/n90.txt" | head -n 1 | cut -d: -f1)
[ -n "$id_line" ] && [ -n "$en_line" ] && [ "$id_line" -lt "$en_line" ] \
    || { cat "$T/n90.txt"; seg_fail "the notice is not Indonesian first, English below"; }
grep -q "Nomor seri     : $SEGERA" "$T/n90.txt" && grep -q "^Ajukan perpanjangan kepada RA (Dinas Kominfo)" "$T/n90.txt" \
    && grep -qi "^Content-Transfer-Encoding: 7bit" "$T/n90.txt" \
    && grep -q "Ask the RA (Dinas Kominfo) for a renewal now" "$T/n90.txt" || { cat "$T/n90.txt"; seg_fail "the notice lacks its content"; }
[ "$(sqlite3 "$STATE" "SELECT count(*) FROM notices WHERE threshold = 90 AND state = 'sent'")" = 1 ] \
    || seg_fail "the ledger has no sent 90-day notice"
seg_ok "+15 d: the 90-day notice, signed as noreply@$DINAS, Indonesian then English, to owner and administrators"

# --- 3. once only: a rerun and two runs at once send nothing twice ------------------------------------
notify +15d || { cat "$T/notify.out"; seg_fail "the rerun failed"; }
grep -q "^already sent: signing certificate $SEGERA" "$T/notify.out" || { cat "$T/notify.out"; seg_fail "the rerun did not see the notice as sent"; }
expect_count 1
at +45d
rc1=0 rc2=0
lc_faketime +45d "$SEGELCTL" notify-expiry --config "$SEG_CONFIG" >"$T/a.out" 2>&1 &
p1=$!
lc_faketime +45d "$SEGELCTL" notify-expiry --config "$SEG_CONFIG" >"$T/b.out" 2>&1 &
p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] || { cat "$T/a.out" "$T/b.out"; seg_fail "two runs at once: exit $rc1 and $rc2"; }
[ "$(cat "$T/a.out" "$T/b.out" | grep -c '^sent: .*60-day notice')" -eq 1 ] \
    || { cat "$T/a.out" "$T/b.out"; seg_fail "two runs at once did not send the 60-day notice exactly once"; }
seg_wait_delivered $((delivered += 1))
expect_count 2
seg_ok "a rerun sends nothing; two runs at once (+45 d) send the 60-day notice once"

# --- 4. the relay is down: nothing recorded, the next run sends it ---------------------------------------
write "$T/down.yaml" "${NOTICES/127.0.0.1:$SMTP_PORT/127.0.0.1:$(seg__port DOWN; echo "$DOWN")}"
at +75d
rc=0
notify +75d "$T/down.yaml" || rc=$?
[ "$rc" -eq 1 ] && grep -q "not sent: signing certificate $SEGERA .*30-day notice: SMTP to 127.0.0.1:.*retried on the next run" "$T/notify.out" \
    || { cat "$T/notify.out"; seg_fail "relay down: expected exit 1 and 'retried on the next run' (exit $rc)"; }
[ "$(sqlite3 "$STATE" "SELECT count(*) FROM notices WHERE threshold = 30")" = 0 ] || seg_fail "a notice not sent stayed claimed"
notify +75d || { cat "$T/notify.out"; seg_fail "the run after the relay came back failed"; }
grep -q "^sent: .*30-day notice" "$T/notify.out" || { cat "$T/notify.out"; seg_fail "the 30-day notice was not sent after all"; }
seg_wait_delivered $((delivered += 1))
expect_count 3
seg_ok "relay down: exit 1, nothing recorded; the next run sends the 30-day notice"

# --- 5. on expiry, and the OCSP responder's own certificate ---------------------------------------------
at +101d
notify +101d || { cat "$T/notify.out"; seg_fail "notify-expiry on expiry failed"; }
grep -q "^sent: signing certificate $SEGERA (segera@$DINAS), expired -> " "$T/notify.out" || { cat "$T/notify.out"; seg_fail "no notice on expiry"; }
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/n0.eml"
seg_expect_header "$T/n0.eml" Subject "Sertifikat elektronik sudah berakhir: segera@$DINAS / Certificate has expired"
at +300d
notify +300d || { cat "$T/notify.out"; seg_fail "notify-expiry +300 d failed"; }
grep -q "^sent: ocsp-responder certificate .*(BSrE Lifecycle OCSP Responder), 90-day notice -> kominfo@examplekab.go.id$" "$T/notify.out" \
    || { cat "$T/notify.out"; seg_fail "no notice for the OCSP responder's certificate, or not to the administrators only"; }
seg_wait_delivered $((delivered += 1))
expect_count 5
seg_ok "on expiry: 'sudah berakhir / has expired'; +300 d: the OCSP responder's certificate, to the administrators"
