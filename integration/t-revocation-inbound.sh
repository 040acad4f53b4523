#!/usr/bin/env bash
# Revocation of inbound signers and of recipients' certificates (R6), through real Postfix with OCSP
# and CRLs on 127.0.0.1 (responders.py): the Authentication-Results verdict and the log line carry the
# evidence (crl first, ocsp where the certificate names no CRL); a signer revoked at the CA fails with
# the date and reason; an unknown status is a note, or temperror when configured; local CRL files
# (inbound.crl_files) still decide when the responders are down; nobody is encrypted to once revoked.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle-lib.sh"

seg_setup revocation-inbound
lc_setup
AUTHSERV=mx.segel-test.example
OUTSIDE=192.0.2.10
seg_start_sink
seg_start_postfix "relay_domains = $DINAS" "relay_transport = relay:[127.0.0.1]:$SINK_PORT" \
    "smtpd_recipient_restrictions = permit_mynetworks, permit_sasl_authenticated, permit_auth_destination, reject"
delivered=0

# inbound_config FILE [REVOCATION YAML] [INBOUND EXTRA]
inbound_config() {
    lc_config "$1" "siti" "inbound:
  authserv_id: $AUTHSERV
${3:-}
revocation:
  timeout: 2s
  connect_timeout: 1s
${2:-}"
}

# signed NAME FROM OUT: a message signed by NAME with openssl cms (From FROM), into OUT.
signed() {
    printf 'Content-Type: text/plain; charset=utf-8\n\nSurat dari %s.\nSalam\n' "$1" >"$T/entity.$1"
    {
        printf 'Date: %s\nMessage-ID: <%s.%s@mitra.example>\n' "$(LC_ALL=C date -R)" "$1" "$RANDOM"
        printf 'From: %s\nTo: siti@%s\nSubject: Surat %s\n' "$2" "$DINAS" "$1"
        openssl cms -sign -in "$T/entity.$1" -signer "$LC/$1.leaf.pem" -inkey "$LC/$1.key" -certfile "$LC/int.pem" -md sha256
    } >"$3"
}

# deliver MSG: sends MSG from outside and sets AR to our Authentication-Results (unfolded).
deliver() {
    seg_send "sender@mitra.example" - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$1"
    seg_expect_reply '^250 '
    seg_wait_delivered $((delivered += 1))
    seg_delivered_copy "$T/got.eml"
    AR=$(seg_header "$T/got.eml" Authentication-Results | grep -i "^$AUTHSERV;" || true)
}

expect_ar() { # ERE
    printf '%s\n' "$AR" | grep -Eq -- "$1" || seg_fail "Authentication-Results is '$AR', expected /$1/"
}

restart_milter() { # CONFIG
    seg_stop_milter
    seg_start_milter "$1"
}

TODAY=$(date -u +%Y-%m-%d)
signed mitra "Mitra <mitra@mitra.example.go.id>" "$T/mitra.eml"
signed ocsponly "Hanya OCSP <ocsponly@$DINAS>" "$T/ocsponly.eml"
signed plain "Polos <plain@$DINAS>" "$T/plain.eml"

# --- 1. evidence in the verdict and the log ----------------------------------------------------------
inbound_config "$T/note.yaml"
seg_start_milter "$T/note.yaml"
deliver "$T/mitra.eml"
expect_ar "smime=pass \(good signature; revocation: crl good, just now\) body\.smime-identifier=mitra@mitra\.example\.go\.id"
grep -q "verify smime=pass signer=mitra@mitra.example.go.id .* reason=\"good signature; revocation: crl good, just now\"" "$T/milter.log" \
    || seg_fail "the verify log line does not carry the evidence"
deliver "$T/ocsponly.eml"
expect_ar "smime=pass \(good signature; revocation: ocsp good, just now\) body\.smime-identifier=ocsponly@$DINAS"
deliver "$T/plain.eml"
expect_ar "smime=pass \(good signature\) body\.smime-identifier=plain@$DINAS"
grep -q "verify smime=pass signer=plain@$DINAS .* revocation=not-checked" "$T/milter.log" \
    || seg_fail "a signer with nothing to ask is not logged as revocation=not-checked"
seg_ok "crl good / ocsp good in Authentication-Results and the log; nothing to ask: not-checked in the log"

# --- 2. revoked at the CA: fail with the date and the reason -----------------------------------------
lc_revoke mitra keyCompromise
restart_milter "$T/note.yaml"  # a fresh process: the CRL is fetched again
deliver "$T/mitra.eml"
expect_ar "smime=fail \(certificate revoked on $TODAY: keyCompromise; revocation: crl, just now\)"
grep -q "verify smime=fail signer=mitra@mitra.example.go.id .* revocation=revoked revocation_source=crl " "$T/milter.log" \
    || seg_fail "the verify log line does not record the signer as revoked (with its source)"
[ ! -e "$T/recipients/mitra@mitra.example.go.id.pem" ] || seg_fail "a revoked signer's certificate was harvested"
seg_ok "revoked signer: $(printf '%s' "$AR" | grep -o 'smime=fail ([^)]*)')"

# --- 3. unknown: a note by default, temperror when configured ----------------------------------------
seg_responder_fault /ocsp down
restart_milter "$T/note.yaml"
deliver "$T/ocsponly.eml"
expect_ar "smime=pass \(good signature; revocation unknown: POST http://127\.0\.0\.1:$RESP_PORT/ocsp: "
inbound_config "$T/temperror.yaml" "  verify:
    unknown: temperror"
restart_milter "$T/temperror.yaml"
deliver "$T/ocsponly.eml"
expect_ar "smime=temperror \(revocation unknown: POST http://127\.0\.0\.1:$RESP_PORT/ocsp: "
seg_responder_fault /ocsp ok
seg_ok "responder down: note by default, temperror with revocation.verify.unknown: temperror"

# --- 4. local CRL files still decide, with every responder down -----------------------------------------
seg_responder_fault /crl down
seg_responder_fault /ocsp down
cp "$LC/crl/int.crl" "$T/local.crl"
inbound_config "$T/files.yaml" "" "  crl_files: [$T/local.crl]"
restart_milter "$T/files.yaml"
deliver "$T/mitra.eml"
expect_ar "smime=fail \(certificate revoked\)"
signed siti "Siti <siti@$DINAS>" "$T/siti.eml"
deliver "$T/siti.eml"
expect_ar "smime=pass \(good signature; revocation: crl file good\)"
seg_responder_fault /crl ok
seg_responder_fault /ocsp ok
seg_ok "inbound.crl_files: mitra fails (revoked), siti passes (crl file good) with the responders down"

# --- 5. encryption: never to a certificate known revoked ---------------------------------------------
mkdir -p "$T/recips"
cp "$LC/penerima.leaf.pem" "$T/recips/penerima@mitra.example.go.id.pem"
lc_config "$T/enc.yaml" "siti" "encryption:
  certificate_directory: $T/recips
  domains:
    - domain: mitra.example.go.id
      policy: required
revocation:
  timeout: 2s
  connect_timeout: 1s"
seg_make_message "$T/secret.eml" "Siti <siti@$DINAS>" "penerima@mitra.example.go.id" "Rahasia"
encrypt() {
    local rc=0
    "$SEGELCTL" encrypt --config "$T/enc.yaml" --from "siti@$DINAS" --login "siti@$DINAS" \
        --to penerima@mitra.example.go.id --explain <"$T/secret.eml" >"$T/enc.out" 2>"$T/enc.err" || rc=$?
    return "$rc"
}
encrypt || { cat "$T/enc.err"; seg_fail "encryption to a good certificate failed"; }
grep -qi '^Content-Type: application/pkcs7-mime; smime-type=enveloped-data' "$T/enc.out" \
    || { cat "$T/enc.err"; seg_fail "not encrypted to penerima (good)"; }
lc_revoke penerima keyCompromise
rc=0
encrypt || rc=$?
[ "$rc" -eq 1 ] || { cat "$T/enc.err"; seg_fail "encryption to a revoked certificate exited $rc (expected 1: refused)"; }
grep -q "revoked on $TODAY (keyCompromise" "$T/enc.err" || { cat "$T/enc.err"; seg_fail "the refusal does not say revoked"; }
grep -q '^550 5\.7\.1 encryption is required but there is no usable certificate for: penerima@mitra\.example\.go\.id' "$T/enc.err" \
    || { cat "$T/enc.err"; seg_fail "no 550 for the required encryption"; }
seg_ok "encryption: to penerima while good; refused once revoked ($(grep -o 'revoked on [^;]*' "$T/enc.err" | head -n 1))"
