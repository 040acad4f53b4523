#!/usr/bin/env bash
# Incident detection (R12, docs/incidents.md) through real Postfix + segel-milter: every kind is
# triggered, and each gives an audit event of kind incident with reason_code KIND (read back with
# `segelctl incidents --format json`), a warning line `incident kind=KIND ...` and a mail that
# smtp-sink captures, addressed to the CSIRT and the OPD administrator, signed with the audit seal
# (openssl cms -verify: signer noreply@dinas.example.go.id). Thresholds are set low in the config
# (send_as 3, volume floor 3, clients floor 2) so that a handful of messages cross them; the
# windows are fixed-size and counted, so nothing here depends on timing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/audit-lib.sh"

seg_setup incidents
seg_start_sink
seg_start_postfix_inbound
for u in siti ani; do seg_add_user "$u@$DINAS" "$u-pw"; done
seg_add_user budi budi-pw
OUTSIDE=192.0.2.10

# The CRL of the intermediate CA, revoking sekretariat's certificate, served on loopback.
mkdir -p "$T/ca" "$T/crl" "$T/revcache"
: >"$T/ca/index.txt"
echo 01 >"$T/ca/crlnumber"
cat >"$T/ca/ca.cnf" <<EOF
[ca]
default_ca = c
[c]
database = $T/ca/index.txt
crlnumber = $T/ca/crlnumber
default_md = sha256
default_crl_days = 30
EOF
openssl x509 -in "$PKI/sekretariat.crt" -out "$T/sekretariat.leaf.pem"
openssl ca -batch -config "$T/ca/ca.cnf" -keyfile "$PKI/intermediate.key" -cert "$PKI/intermediate.pem" \
    -revoke "$T/sekretariat.leaf.pem" -crl_reason keyCompromise >"$T/ca.log" 2>&1 || { cat "$T/ca.log" >&2; seg_fail "openssl ca -revoke failed"; }
openssl ca -batch -config "$T/ca/ca.cnf" -keyfile "$PKI/intermediate.key" -cert "$PKI/intermediate.pem" \
    -gencrl -out "$T/int.crl.pem" >>"$T/ca.log" 2>&1 || { cat "$T/ca.log" >&2; seg_fail "openssl ca -gencrl failed"; }
openssl crl -in "$T/int.crl.pem" -outform DER -out "$T/crl/int.crl"
seg_start_responders --static /crl="$T/crl"
SEKRETARIAT=$(seg_cert_serial "$T/sekretariat.leaf.pem")

# An old log whose last 50 events no checkpoint covers (dated 2026-01-01): a checkpoint gap.
audit_generate "$T/audit.db" 150 100
C="$T/segel.yaml"
audit_config "$C" "sqlite:$T/audit.db"
cat >>"$C" <<EOF
inbound:
  sender_protection: tag
revocation:
  cache_directory: $T/revcache
  timeout: 3s
  connect_timeout: 2s
  responders:
    - issuer: $PKI/intermediate.pem
      crl: [$RESP_URL/crl/int.crl]
incidents:
  notify:
    relay: 127.0.0.1:$SINK_PORT
    csirt: [csirt@examplekab.go.id]
    domains:
      - domain: $DINAS
        administrators: [admin@$DINAS]
    period: 1h
  send_as: {refusals: 3, within: 10m}
  volume: {factor: 10, floor: 3}
  clients: {factor: 3, floor: 2, within: 1h}
metrics:
  file: $T/segel.prom
  interval: 1
EOF
PROM="$T/segel.prom"
"$SEGELCTL" check-config --config "$C" >"$T/check.out" 2>&1 || { cat "$T/check.out" >&2; seg_fail "check-config refuses the test configuration"; }
seg_start_milter "$C"

# expect_incident KIND: its log line, its event (segelctl incidents), and its signed mail.
expect_incident() {
    local kind=$1 mail="" f
    grep -q "incident kind=$kind " "$T/milter.log" || { tail -n 30 "$T/milter.log" >&2; seg_fail "no 'incident kind=$kind' warning line"; }
    grep -q "\[warning\].*incident kind=$kind \|warn.*incident kind=$kind " "$T/milter.log" \
        || seg_fail "the $kind line is not at level warning"
    # The trail commits in its own thread: the event may land just after the log line.
    for _ in $(seq 50); do
        "$SEGELCTL" incidents --config "$C" --kind "$kind" --format json >"$T/inc-$kind.json" 2>"$T/inc-$kind.err" \
            || { cat "$T/inc-$kind.err" >&2; seg_fail "segelctl incidents --kind $kind failed"; }
        grep -q "\"kind\":\"$kind\"" "$T/inc-$kind.json" && break
        sleep 0.1
    done
    grep -q "\"kind\":\"$kind\"" "$T/inc-$kind.json" || { cat "$T/inc-$kind.json" >&2; seg_fail "no $kind event in the audit trail"; }
    for _ in $(seq 100); do
        mail=$(grep -l "^Subject: \[segel incident\] $kind" "$SINK_DIR"/* 2>/dev/null | head -n 1 || true)
        [ -n "$mail" ] && break
        sleep 0.1
    done
    [ -n "$mail" ] || { grep 'incident mail' "$T/milter.log" >&2 || true; seg_fail "no incident mail for $kind reached the sink"; }
    f="$T/mail-$kind.eml"
    seg_strip_sink "$mail" "$f"
    grep -qi "csirt@examplekab.go.id" "$mail" || seg_fail "the $kind mail does not go to the CSIRT"
    seg_expect_header "$f" Content-Type '^multipart/signed;'
    signer=$(seg_verify_openssl "$f") || { cat "$T/openssl.err" >&2; seg_fail "openssl cms -verify rejects the $kind mail"; }
    [ "$signer" = "noreply@$DINAS" ] || seg_fail "the $kind mail is signed by '$signer', not the seal"
    seg_ok "$kind: warning line, audit event, mail signed by $signer"
}

# --- checkpoint-gap: found at start in the old log -----------------------------------------------
expect_incident checkpoint-gap

# --- forged-official-sender: an unsigned official From from outside ---------------------------------
seg_make_message "$T/spoof.eml" "Kepala Dinas <kepala@$DINAS>" "budi@$DINAS" "Transfer dana segera"
seg_send "kepala@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/spoof.eml"
seg_expect_reply '^250 '
expect_incident forged-official-sender
grep -q "admin@$DINAS" "$(grep -l '^Subject: \[segel incident\] forged-official-sender' "$SINK_DIR"/* | head -n 1)" \
    || seg_fail "the forged-official-sender mail does not go to the OPD administrator"

# --- invalid-signature: siti's signature over a changed body --------------------------------------
sign_as() { # NAME FILE: an openssl-signed message of NAME@DINAS into FILE
    openssl pkcs12 -in "$PKI/$1.p12" -passin "file:$PKI/$1.pass" -nodes -nocerts -out "$T/$1.key" 2>/dev/null
    openssl pkcs12 -in "$PKI/$1.p12" -passin "file:$PKI/$1.pass" -nokeys -clcerts -out "$T/$1.pem" 2>/dev/null
    printf 'Content-Type: text/plain; charset=utf-8\n\nSurat resmi nomor 17.\nSalam\n' >"$T/entity"
    {
        printf 'Date: %s\nMessage-ID: <inc.%s.%s@mitra.example>\n' "$(LC_ALL=C date -R)" "$1" "$$"
        printf 'From: %s <%s@%s>\nTo: budi@%s\nSubject: Surat resmi\n' "$1" "$1" "$DINAS" "$DINAS"
        openssl cms -sign -in "$T/entity" -signer "$T/$1.pem" -inkey "$T/$1.key" \
            -certfile "$PKI/intermediate.pem" -md sha256
    } >"$2"
}
sign_as siti "$T/siti-signed.eml"
sed -i 's/nomor 17/nomor 18/' "$T/siti-signed.eml"
seg_send "siti@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/siti-signed.eml"
seg_expect_reply '^250 '
expect_incident invalid-signature

# --- revoked-signer: a valid signature by sekretariat, whose certificate the CRL revokes ----------
sign_as sekretariat "$T/sek-signed.eml"
seg_send "sekretariat@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/sek-signed.eml"
seg_expect_reply '^250 '
expect_incident revoked-signer
grep -q "\"serial\":\"$SEKRETARIAT\"" "$T/inc-revoked-signer.json" || seg_fail "the revoked-signer event does not name certificate $SEKRETARIAT"

# --- sign-revoked: sekretariat tries to sign outbound -----------------------------------------------
seg_add_user "sekretariat@$DINAS" sek-pw
seg_make_message "$T/sek.eml" "Sekretariat <sekretariat@$DINAS>" kepala@mitra.example "Undangan"
seg_send "sekretariat@$DINAS" - kepala@mitra.example --auth "sekretariat@$DINAS" sek-pw --data-file "$T/sek.eml"
seg_expect_reply '^550 5\.7\.1 certificate .* was revoked'
expect_incident sign-revoked

# --- sign-expired: ani's only certificate expired on 2026-01-01 --------------------------------------
seg_make_message "$T/ani.eml" "Ani <ani@$DINAS>" kepala@mitra.example "Laporan"
seg_send "ani@$DINAS" - kepala@mitra.example --auth "ani@$DINAS" ani-pw --data-file "$T/ani.eml"
seg_expect_reply '^550 5\.7\.1 .*expired'
expect_incident sign-expired

# --- send-as-repeated: login budi sends as siti three times ----------------------------------------
seg_make_message "$T/budi-as-siti.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Atas nama"
for _ in 1 2 3; do
    seg_send "siti@$DINAS" - kepala@mitra.example --auth budi budi-pw --data-file "$T/budi-as-siti.eml"
    seg_expect_reply '^550 5\.7\.1 login budi may not send as'
done
expect_incident send-as-repeated
[ "$(grep -c 'incident kind=send-as-repeated ' "$T/milter.log")" -eq 1 ] || seg_fail "send-as-repeated was raised more than once for one burst"

# --- volume-anomaly: siti signs 4 messages in an hour (floor 3, no history) -------------------------
seg_make_message "$T/siti.eml" "Siti <siti@$DINAS>" kepala@mitra.example "Surat"
for _ in 1 2 3 4; do
    seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
    seg_expect_reply '^250 '
done
expect_incident volume-anomaly
grep -q 'incident kind=volume-anomaly login=siti@dinas.example.go.id ' "$T/milter.log" || seg_fail "the volume-anomaly line does not name the login"

# --- client-anomaly: siti from two more networks (floor 2) ------------------------------------------
for ip in 198.51.100.7 203.0.113.9; do
    seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --xclient "$ip" --data-file "$T/siti.eml"
    seg_expect_reply '^250 '
done
expect_incident client-anomaly

# --- rate limit: a second forged sender within the period is not mailed again -------------------------
seg_send "kepala@$DINAS" - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/spoof.eml"
seg_expect_reply '^250 '
for _ in $(seq 50); do grep -q 'incident mail result=suppressed kind=forged-official-sender' "$T/milter.log" && break; sleep 0.1; done
grep -q 'incident mail result=suppressed kind=forged-official-sender' "$T/milter.log" || seg_fail "the second forged-official-sender mail was not suppressed"
[ "$(grep -l '^Subject: \[segel incident\] forged-official-sender' "$SINK_DIR"/* | wc -l)" -eq 1 ] || seg_fail "the rate limit let a second mail through"
seg_ok "rate limit: one mail per kind and login per period, the next one counted as suppressed"

# --- audit-store-failure: another process holds the write lock longer than the trail waits -----------
sqlite3 "$T/audit.db" "BEGIN IMMEDIATE" ".shell sleep 12" "COMMIT" >/dev/null 2>&1 &
locker=$!
sleep 0.5
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
wait "$locker" || true
seg_expect_reply '^451 4\.3\.0 segel: cannot record this message in the audit trail'
# The incident event waits for the next record that succeeds: the failed store is not waited on twice.
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
seg_expect_reply '^250 '
expect_incident audit-store-failure

# --- metrics: the counter by kind ------------------------------------------------------------------
for _ in $(seq 50); do
    grep -q '^segel_incidents_total{kind="audit-store-failure"} 1$' "$PROM" 2>/dev/null && break
    sleep 0.1
done
for k in checkpoint-gap invalid-signature revoked-signer sign-revoked sign-expired send-as-repeated volume-anomaly \
    client-anomaly audit-store-failure; do
    grep -q "^segel_incidents_total{kind=\"$k\"} 1\$" "$PROM" || { grep segel_incident "$PROM" >&2; seg_fail "segel_incidents_total{kind=\"$k\"} is not 1"; }
done
grep -q '^segel_incidents_total{kind="forged-official-sender"} [23]$' "$PROM" || seg_fail "forged-official-sender is not counted"
grep -q '^segel_incident_mail_total{result="suppressed"} [1-9]' "$PROM" || seg_fail "suppressed mail is not counted"
promtool check metrics <"$PROM" >"$T/promtool.out" 2>&1 || { cat "$T/promtool.out" >&2; seg_fail "promtool check metrics rejects the file"; }
seg_ok "segel_incidents_total by kind; promtool check metrics: no problems"

# --- the list, as people read it ----------------------------------------------------------------------
"$SEGELCTL" incidents --config "$C" --since 1d >"$T/list.txt" 2>"$T/list.err" || seg_fail "segelctl incidents failed"
[ "$(awk '{print $2}' "$T/list.txt" | sort -u | wc -l)" -eq 10 ] || { cat "$T/list.txt" >&2; seg_fail "segelctl incidents does not list all ten kinds"; }
grep -q "incident(s)" "$T/list.err" || seg_fail "no count on stderr"
seg_ok "segelctl incidents: $(wc -l <"$T/list.txt") incidents of 10 kinds"
