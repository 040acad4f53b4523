#!/usr/bin/env bash
# Revocation of the gateway's own signing certificates (R6), through real Postfix, with OCSP and CRLs
# served by responders.py on 127.0.0.1 and certificates whose AIA / CRL distribution points point there:
# - a good certificate signs, and the log line carries the evidence (ocsp good, just now);
# - a certificate revoked at the CA (openssl ca -revoke) is refused once `segelctl revocation refresh`
#   has seen it: 550 5.7.1 certificate <serial> of <address> was revoked on <date> (keyCompromise),
#   with an incident line; nothing is delivered;
# - a slow or broken OCSP responder falls back to the CRL; a forged answer is refused;
# - responders down: the last good answer is used within revocation.signing.grace (faketime +2 h),
#   beyond it the configured choice: 451 (defer, the default) or signing with a note (faketime +25 h);
# - segelctl certs shows state, source and age, stops calling a revoked certificate usable,
#   --warn-days and --json for monitoring; check-config --strict fails on the revoked certificate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle-lib.sh"

seg_setup revocation
lc_setup
seg_start_sink
seg_start_postfix
for u in siti cabut; do seg_add_user "$u@$DINAS" "$u-pw"; done
mkdir -p "$T/revcache"
REV="revocation:
  cache_directory: $T/revcache
  timeout: 3s
  connect_timeout: 2s"
lc_config "$SEG_CONFIG" "siti cabut crlonly plain" "$REV"
seg_start_milter
delivered=0
SITI=$(lc_serial siti)
CABUT=$(lc_serial cabut)

# --- 1. a good certificate signs; the evidence is in the log ---------------------------------------
lc_wait_log "revocation serial=$SITI addresses=siti@$DINAS state=good evidence=\"ocsp good"
seg_make_message "$T/m1.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Surat 1"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/m1.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got1.eml"
lc_expect_signed "$T/got1.eml" "siti@$DINAS"
grep -Eq "sign from=<siti@$DINAS>.* revocation=\"ocsp good, (just now|[0-9]+ min old)\"" "$T/milter.log" \
    || seg_fail "the sign log line does not carry the revocation evidence"
grep -q '"method": "POST", "mode": "ok", "nonce": "04' "$T/responders.log" || seg_fail "OCSP requests carry no nonce"
seg_ok "siti signs; log: $(grep -o 'revocation="[^"]*"' "$T/milter.log" | head -n 1); OCSP requests carry a nonce"

# --- 2. revoked at the CA: refused with the exact reply, an incident, nothing delivered --------------
lc_revoke cabut keyCompromise
rc=0
"$SEGELCTL" revocation refresh --config "$SEG_CONFIG" >"$T/refresh.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/refresh.out"; seg_fail "revocation refresh exited $rc with a revoked certificate (expected 1)"; }
grep -q "^$CABUT  cabut@$DINAS  ocsp revoked on $(date -u +%Y-%m-%d) (keyCompromise)" "$T/refresh.out" \
    || { cat "$T/refresh.out"; seg_fail "revocation refresh does not show cabut revoked"; }
kill -USR1 "$SEG_MILTER_PID"
lc_wait_log "revocation serial=$CABUT addresses=cabut@$DINAS state=revoked evidence=\"ocsp revoked on .* was=\"[^\"]*\" action=\"signs nothing more\""
seg_make_message "$T/m2.eml" "Cabut <cabut@$DINAS>" kepala@mitra.example "Surat 2"
seg_send "cabut@$DINAS" - kepala@mitra.example --auth "cabut@$DINAS" cabut-pw --data-file "$T/m2.eml"
seg_expect_reply "^550 5\.7\.1 certificate $CABUT of cabut@dinas\.example\.go\.id was revoked on $(date -u +%Y-%m-%d) \(keyCompromise\)$"
grep -q "incident kind=sign-revoked login=cabut@$DINAS address=<cabut@$DINAS> client=127.0.0.1 serial=$CABUT " "$T/milter.log" \
    || seg_fail "no incident line for the attempt to sign with a revoked certificate"
# The decision line records which certificate and the evidence it was refused on (the Outcome, R6).
grep -Eq "reject from=<cabut@$DINAS> .* cert=$CABUT revocation=\"ocsp revoked on $(date -u +%Y-%m-%d) \(keyCompromise\)(, just now|, [0-9]+ min old)\"" "$T/milter.log" \
    || seg_fail "the reject log line does not carry the certificate and its revocation evidence"
sleep 1
[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "something was delivered for the revoked certificate"
seg_ok "revoked: $SEG_REPLY; incident logged"

# --- 3. broken OCSP answers: the CRL decides; a forged answer is never believed ---------------------
for mode in slow:5 garbage wrong-nonce unauthorized http500; do
    seg_responder_fault /ocsp "$mode"
    "$SEGELCTL" revocation refresh --config "$SEG_CONFIG" >"$T/refresh-$mode.out" 2>&1 || true
    grep -q "^$SITI  siti@$DINAS  crl good, just now (http://127.0.0.1:$RESP_PORT/crl/int.crl)" "$T/refresh-$mode.out" \
        || { cat "$T/refresh-$mode.out"; seg_fail "OCSP $mode: siti is not judged good by the CRL"; }
    grep -q "^$CABUT  cabut@$DINAS  crl revoked on" "$T/refresh-$mode.out" \
        || { cat "$T/refresh-$mode.out"; seg_fail "OCSP $mode: cabut is not judged revoked by the CRL"; }
done
seg_responder_fault /ocsp ok
seg_ok "OCSP slow, garbage, wrong nonce, unauthorised responder, HTTP 500: the CRL decides (siti good, cabut revoked)"

# --- 4. responders down: grace, then the configured choice --------------------------------------------
"$SEGELCTL" revocation refresh --config "$SEG_CONFIG" >/dev/null 2>&1 || true  # a fresh good answer for siti
seg_responder_fault /ocsp down
seg_responder_fault /crl down
explain() { # OFFSET CONFIG: segelctl explain for siti, the clock moved by OFFSET
    local rc=0
    lc_faketime "$1" "$SEGELCTL" explain --config "$2" --from "siti@$DINAS" --login "siti@$DINAS" >"$T/explain.out" 2>&1 || rc=$?
    return "$rc"
}
explain +2h "$SEG_CONFIG" || { cat "$T/explain.out"; seg_fail "+2 h, responders down: siti was refused within the grace"; }
# OCSP is down; the CRL copy fetched 2 h before is still valid (nextUpdate in 7 days) and is served.
grep -q "decision:  SIGN as siti@$DINAS" "$T/explain.out" && grep -Eq "revocation: (ocsp|crl) good, 2 h old" "$T/explain.out" \
    || { cat "$T/explain.out"; seg_fail "+2 h: expected SIGN with '(ocsp|crl) good, 2 h old'"; }
within=$(grep -Eo '(ocsp|crl) good, 2 h old' "$T/explain.out" | head -n 1)
rc=0
explain +25h "$SEG_CONFIG" || rc=$?
[ "$rc" -eq 1 ] && grep -Eq "decision:  REJECT 451 4\.7\.0 certificate $SITI of siti@$DINAS: revocation status unknown: the last good answer is 25 h old, beyond revocation.signing.grace \(24 h\), and the latest check failed \(POST http://127.0.0.1:$RESP_PORT/ocsp: .*\); try again later" "$T/explain.out" \
    || { cat "$T/explain.out"; seg_fail "+25 h: expected 451 4.7.0 beyond the grace"; }
lc_config "$T/sign-unknown.yaml" "siti" "$REV
  signing:
    unknown: sign"
explain +25h "$T/sign-unknown.yaml" || { cat "$T/explain.out"; seg_fail "+25 h, unknown: sign: refused"; }
grep -q "signed anyway (revocation.signing.unknown: sign)" "$T/explain.out" \
    || { cat "$T/explain.out"; seg_fail "+25 h, unknown: sign: the note is missing"; }
# The running milter holds its good answer (fetched minutes ago): mail still signs while the responders are down.
# The Outcome of the deferral (segelctl process: the Session's own record) names the certificate and
# the stale evidence it relied on.
seg_make_message "$T/m3.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Surat 3"
rc=0
lc_faketime +25h "$SEGELCTL" process --config "$SEG_CONFIG" --from "siti@$DINAS" --login "siti@$DINAS" \
    --to kepala@mitra.example <"$T/m3.eml" >"$T/process.json" 2>"$T/process.err" || rc=$?
"$SEG_PY" - "$T/process.json" "$SITI" <<'EOF' || { cat "$T/process.err"; seg_fail "process +25 h (exit $rc): the revocation record is wrong"; }
import json, sys
o = json.load(open(sys.argv[1]))["outcome"]
r = o["revocation"]
assert o["decision"] == "defer", o
assert r["serial"] == sys.argv[2] and r["status"] == "good" and r["source"] in ("ocsp", "crl"), r
assert r["url"].startswith("http://127.0.0.1:") and "25 h old" in r["evidence"], r
EOF

seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/m3.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_responder_fault /ocsp ok
seg_responder_fault /crl ok
seg_ok "responders down: +2 h signs ($within); +25 h defers 451, or signs with a note (unknown: sign)"

# --- 5. segelctl certs, --warn-days, --json; check-config --strict ----------------------------------
"$SEGELCTL" certs --config "$SEG_CONFIG" >"$T/certs.out" 2>&1 || { cat "$T/certs.out"; seg_fail "segelctl certs failed"; }
grep -q "^$CABUT  cabut@$DINAS .* certificate $CABUT of cabut@$DINAS was revoked on" "$T/certs.out" \
    || { cat "$T/certs.out"; seg_fail "certs: cabut's state does not say revoked"; }
grep "^$CABUT " "$T/certs.out" | grep -q usable && seg_fail "certs still calls the revoked certificate usable"
grep -Eq "^    revocation: (ocsp|crl) good, (just now|[0-9]+ min old) \(http://127.0.0.1:$RESP_PORT/(ocsp|crl/int.crl)\)" "$T/certs.out" \
    || { cat "$T/certs.out"; seg_fail "certs: no revocation line with state, age and source"; }
rc=0
"$SEGELCTL" certs --config "$SEG_CONFIG" --warn-days 30 >"$T/warn.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "warning: certificate $CABUT (cabut@$DINAS): revoked" "$T/warn.out" \
    || { cat "$T/warn.out"; seg_fail "certs --warn-days 30 exited $rc (expected 1 for the revoked certificate)"; }
lc_config "$T/good.yaml" "siti" "$REV"
"$SEGELCTL" certs --config "$T/good.yaml" --warn-days 30 >"$T/warn-good.out" 2>&1 \
    || { cat "$T/warn-good.out"; seg_fail "certs --warn-days 30 failed for a good certificate"; }
rc=0
"$SEGELCTL" certs --config "$T/good.yaml" --warn-days 800 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || seg_fail "certs --warn-days 800 exited $rc for a certificate valid 2 years (expected 1)"
"$SEGELCTL" certs --config "$SEG_CONFIG" --json >"$T/certs.json"
"$SEG_PY" - "$T/certs.json" "$CABUT" "$SITI" <<'EOF' || seg_fail "certs --json: unexpected content"
import json, sys
doc = json.load(open(sys.argv[1]))
by = {c["serial"]: c for c in doc["certificates"] if c["kind"] == "signing"}
cabut, siti = by[sys.argv[2]], by[sys.argv[3]]
assert cabut["revocation"]["state"] == "revoked" and cabut["revocation"]["reason"] == "keyCompromise", cabut
assert cabut["usable"] is False, cabut
assert siti["revocation"]["state"] == "good" and siti["revocation"]["source"] in ("ocsp", "crl"), siti
assert siti["revocation"]["age_seconds"] >= 0 and siti["usable"] is True, siti
assert any(c["kind"] == "ocsp-responder" for c in doc["certificates"]), "no responder certificate listed"
assert any("revoked" in w for w in doc["warnings"]), doc["warnings"]
EOF
"$SEGELCTL" check-config "$SEG_CONFIG" >/dev/null 2>&1 || seg_fail "check-config without --strict failed"
rc=0
"$SEGELCTL" check-config "$SEG_CONFIG" --strict >"$T/strict.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "was revoked" "$T/strict.out" || { cat "$T/strict.out"; seg_fail "check-config --strict exited $rc"; }
seg_ok "certs: revoked is not usable, state/source/age shown; --warn-days and --json; check-config --strict exits 1"
