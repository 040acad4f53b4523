#!/usr/bin/env bash
# The harness itself, without segel: a throwaway Postfix (no milter) takes SMTP AUTH submissions
# through Cyrus sasldb and relays them byte-exact to smtp-sink; Postfix refuses to relay for an
# unauthenticated client outside mynetworks; and the two verifiers (openssl cms, gpgsm) accept a
# message signed by openssl and reject the same message once tampered with.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup harness
seg_start_sink
seg_start_postfix "smtpd_milters ="
seg_add_user "siti@$DINAS" siti-secret
seg_add_user budi budi-secret

# --- AUTH with a full-address login; the message arrives byte-exact ----------------------------
msg="$T/plain.eml"
{
    printf 'Date: Sat, 21 Nov 2026 09:00:00 +0700\n'
    printf 'Message-ID: <harness-1@dinas.example.go.id>\n'
    printf 'From: Siti Rahmawati <siti@dinas.example.go.id>\n'
    printf 'To: kepala@mitra.example\n'
    printf 'Subject: =?UTF-8?B?VW5kYW5nYW4gcmFwYXQ=?=\n'
    printf 'MIME-Version: 1.0\n'
    printf 'Content-Type: text/plain; charset=utf-8\n'
    printf 'Content-Transfer-Encoding: 8bit\n'
    printf '\n'
    printf 'Yth. Bapak Kepala — undangan rapat koordinasi.\n'
    printf 'trailing spaces   \n'
    printf 'From the secretary\n'
    printf '.a line starting with a dot\n'
    printf '%0200d\n' 0
    printf '\n'
    printf 'Salam,\n'
}>"$msg"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-secret --data-file "$msg"
seg_expect_reply '^250 2\.0\.0 Ok: queued as '
seg_wait_delivered 1
seg_delivered_copy "$T/got.eml"
# Postfix prepends its own Received header; everything after it must be our message, in CRLF.
awk 'NR == 1 && /^Received: / { skip = 1; next } skip && /^[ \t]/ { next } { skip = 0; print }' \
    "$T/got.eml" >"$T/got-noreceived.eml"
seg_crlf "$msg" "$T/want.eml"
cmp "$T/want.eml" "$T/got-noreceived.eml" || seg_fail "delivered message differs from the one submitted"
head -n 1 "$T/got.eml" | grep -q '^Received: from client.segel-test.example' \
    || seg_fail "delivered copy does not start with Postfix's Received header"
grep -q "sasl_method=PLAIN, sasl_username=siti@$DINAS\$" "$T/maillog" \
    || seg_fail "smtpd did not log sasl_username=siti@$DINAS (the value milters get as {auth_authen})"
seg_ok "AUTH as siti@$DINAS accepted, delivered byte-exact, sasl_username is the full address"

# --- a bare login stays bare ---------------------------------------------------------------------
seg_send "budi@$DINAS" "budi@$DINAS" kepala@mitra.example --auth budi budi-secret
seg_expect_reply '^250 '
seg_wait_delivered 2
grep -q 'sasl_method=PLAIN, sasl_username=budi$' "$T/maillog" || seg_fail "sasl_username for budi is not bare"
seg_ok "AUTH as bare login budi accepted, sasl_username=budi"

# --- wrong password ------------------------------------------------------------------------------
seg_send "siti@$DINAS" "siti@$DINAS" kepala@mitra.example --auth "siti@$DINAS" wrong
seg_expect_reply '^535 5\.7\.8 '
seg_ok "wrong password refused: $SEG_REPLY"

# --- XCLIENT: outside mynetworks and unauthenticated → Postfix refuses to relay -------------------
seg_send someone@outside.example someone@outside.example kepala@mitra.example --xclient 192.0.2.10
seg_expect_reply '^554 5\.7\.1 .*Relay access denied'
seg_ok "unauthenticated client 192.0.2.10 (XCLIENT) refused: $SEG_REPLY"

# --- XCLIENT: inside mynetworks → relayed (the milter, not Postfix, decides about it) ------------
seg_send "noreply@$DINAS" "noreply@$DINAS" kepala@mitra.example --xclient 127.0.0.5
seg_expect_reply '^250 '
seg_wait_delivered 3
grep -q 'client=unknown\[127\.0\.0\.5\]' "$T/maillog" || seg_fail "XCLIENT address 127.0.0.5 not seen by smtpd"
seg_ok "client 127.0.0.5 (XCLIENT, mynetworks) relayed without AUTH"
[ "$(seg_sink_count)" -eq 3 ] || seg_fail "sink holds $(seg_sink_count) messages, expected 3"

# --- the verifiers: accept a good signature, reject a tampered one -------------------------------
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nodes -nocerts -out "$T/siti.key" 2>/dev/null
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null
printf 'Content-Type: text/plain; charset=utf-8\n\nDitandatangani oleh openssl.\nFrom here on\n' >"$T/entity"
sign() { # OUT [openssl cms options]
    local out=$1
    shift
    {
        printf 'From: siti@dinas.example.go.id\nTo: kepala@mitra.example\nSubject: signed by openssl\n'
        openssl cms -sign "$@" -in "$T/entity" -signer "$T/siti.pem" -inkey "$T/siti.key" \
            -certfile "$PKI/intermediate.pem" -md sha256
    } >"$out"
}
sign "$T/detached.eml"
sign "$T/opaque.eml" -nodetach
for kind in detached opaque; do
    seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-secret --data-file "$T/$kind.eml"
    seg_expect_reply '^250 '
done
seg_wait_delivered 5
# shellcheck disable=SC2012
mapfile -t delivered < <(ls -tr "$SINK_DIR"/* | tail -n 2)
seg_strip_sink "${delivered[0]}" "$T/got-detached.eml"
seg_strip_sink "${delivered[1]}" "$T/got-opaque.eml"
seg_expect_header "$T/got-detached.eml" Content-Type '^multipart/signed;'
seg_expect_header "$T/got-opaque.eml" Content-Type 'pkcs7-mime'
seg_expect_signed "$T/got-detached.eml" "siti@$DINAS"
seg_expect_signed "$T/got-opaque.eml" "siti@$DINAS"
seg_ok "openssl and gpgsm verify openssl-made detached and opaque signatures (signer siti@$DINAS)"

sed 's/Ditandatangani oleh openssl/Ditandatangani oleh orang lain/' "$T/got-detached.eml" >"$T/tampered.eml"
cmp -s "$T/got-detached.eml" "$T/tampered.eml" && seg_fail "tampering did not change the message"
if seg_verify_openssl "$T/tampered.eml" >/dev/null; then seg_fail "openssl accepts a tampered message"; fi
if seg_verify_gpgsm "$T/tampered.eml" >/dev/null; then seg_fail "gpgsm accepts a tampered message"; fi
grep -q '^\[GNUPG:\] BADSIG ' "$T/gpgsm.status" || seg_fail "gpgsm did not report BADSIG for the tampered message"
seg_ok "both verifiers reject a tampered body"
if seg_verify_gpgsm "$T/got.eml" >/dev/null 2>&1; then seg_fail "gpgsm helper accepts an unsigned message"; fi
seg_expect_unsigned "$T/got.eml"
seg_ok "an unsigned message is reported unsigned"
