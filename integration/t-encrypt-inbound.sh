#!/usr/bin/env bash
# Inbound decryption through real Postfix (docs/encryption.md): mail from outside encrypted to a
# staff member whose key the gateway holds (credentials:) is decrypted and its inner signature
# verified (Authentication-Results smime=pass), whether openssl cms or gpgsm encrypted it, for RSA
# and EC (ECDH) keys. Strictness: a message re-sent to another mailbox, or to a mailbox next to
# one that could read it, passes unchanged. A message that fails to decrypt is delivered as it
# arrived with the failure in X-Segel-Decryption; forged X-Segel-Decryption fields are removed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/enc-lib.sh"

seg_setup encrypt-inbound
AUTHSERV=mx.segel-test.example
OUTSIDE=192.0.2.10
seg_start_sink
seg_start_postfix_inbound
enc_partner kepala kepala@mitra.example.id rsa
enc_write_config "$SEG_CONFIG" "  policy: never"
printf 'inbound:\n  authserv_id: %s\n  sender_protection: tag\n' "$AUTHSERV" >>"$SEG_CONFIG"
seg_start_milter
delivered=0

# inbound_mail OUT TO CMS_DER_FILE [EXTRA HEADER]: a message from kepala carrying the CMS as
# application/pkcs7-mime (LF line ends; swaks sends CRLF).
inbound_mail() {
    {
        printf 'Date: %s\nMessage-ID: <%s.%s@mitra.example.id>\n' "$(LC_ALL=C date -R)" "$(date +%s%N)" "$RANDOM"
        printf 'From: Kepala Mitra <kepala@mitra.example.id>\nTo: %s\nSubject: Dokumen rahasia\n' "$2"
        if [ -n "${4:-}" ]; then printf '%s\n' "$4"; fi
        printf 'MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
        printf 'Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename="smime.p7m"\n\n'
        base64 -w 76 "$3"
    } >"$1"
}

# The signed inner entity, by kepala (a partner whose certificate chains to the BSrE anchors).
printf 'Content-Type: text/plain; charset=utf-8\n\nLaporan keuangan triwulan, rahasia.\n' >"$T/entity"
openssl cms -sign -in "$T/entity" -signer "$T/partners/kepala.crt" -inkey "$T/partners/kepala.key" \
    -certfile "$PKI/intermediate.pem" -md sha256 >"$T/signed.eml"
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null

expect_decrypted() { # FILE RECIPIENT
    seg_expect_header "$1" X-Segel-Decryption "^decrypted; recipient=$2"
    seg_expect_header "$1" Content-Type '^multipart/signed;'
    grep -q 'Laporan keuangan triwulan' "$1" || seg_fail "$1: the plaintext is missing"
    seg_header "$1" Authentication-Results | grep -q "^$AUTHSERV;.*smime=pass" \
        || seg_fail "$1: no smime=pass for the inner signature: $(seg_header "$1" Authentication-Results)"
}

# --- 1. openssl cms -encrypt to siti (RSA, AES-256-CBC), with a forged X-Segel-Decryption ----------
openssl cms -encrypt -binary -aes256 -in "$T/signed.eml" -outform DER -out "$T/ossl.der" "$T/siti.pem"
inbound_mail "$T/ossl.eml" "siti@$DINAS" "$T/ossl.der" "X-Segel-Decryption: decrypted; forged=yes"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got1.eml"
expect_decrypted "$T/got1.eml" "siti@$DINAS"
[ "$(seg_header "$T/got1.eml" X-Segel-Decryption | grep -c .)" = 1 ] || seg_fail "the forged X-Segel-Decryption field survived"
seg_header "$T/got1.eml" X-Segel-Decryption | grep -q forged && seg_fail "the forged X-Segel-Decryption field survived"
seg_ok "openssl cms -encrypt to siti: decrypted, inner signature smime=pass, forged field removed"

# --- 2. gpgsm --encrypt to siti ------------------------------------------------------------------
seg__gnupg
gpgsm --batch --import "$T/siti.pem" >>"$T/gpgsm-import.log" 2>&1
gpgsm --batch --recipient "siti@$DINAS" --output "$T/gpgsm.der" --encrypt "$T/signed.eml" \
    2>"$T/gpgsm-encrypt.err" || { cat "$T/gpgsm-encrypt.err" >&2; seg_fail "gpgsm --encrypt failed"; }
inbound_mail "$T/gpgsm.eml" "siti@$DINAS" "$T/gpgsm.der"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/gpgsm.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got2.eml"
expect_decrypted "$T/got2.eml" "siti@$DINAS"
seg_ok "gpgsm --encrypt to siti: decrypted and verified"

# --- 3. EC: openssl cms -encrypt to budi (ECDH P-256, AES-128-GCM) ---------------------------------
openssl cms -encrypt -binary -aes-128-gcm -in "$T/signed.eml" -outform DER -out "$T/ec.der" "$PKI/budi.crt"
inbound_mail "$T/ec.eml" "budi@$DINAS" "$T/ec.der"
seg_send kepala@mitra.example.id - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ec.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got3.eml"
expect_decrypted "$T/got3.eml" "budi@$DINAS"
seg_expect_header "$T/got3.eml" X-Segel-Decryption 'type=authEnveloped-data; cipher=aes-128-gcm'
seg_ok "EC recipient, AES-128-GCM authEnveloped-data: decrypted and verified"

# --- 4. strictness: re-sent to another mailbox; or next to a mailbox that cannot read it ----------
seg_send kepala@mitra.example.id - "budi@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got4.eml"
seg_expect_header "$T/got4.eml" Content-Type '^application/pkcs7-mime'
seg_expect_header "$T/got4.eml" X-Segel-Decryption '^none; reason="not decrypted: the gateway holds no key'
grep -q 'Laporan keuangan' "$T/got4.eml" && seg_fail "decrypted for budi with siti's key"
seg_send kepala@mitra.example.id - "siti@$DINAS,lurah@$DINAS" --xclient "$OUTSIDE" --data-file "$T/ossl.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got5.eml"
seg_expect_header "$T/got5.eml" Content-Type '^application/pkcs7-mime'
seg_ok "a captured message re-sent to budi, or sent to siti and lurah, passes unchanged"

# --- 5. a message that does not decrypt is delivered as it arrived, the failure in a header --------
head -c 600 "$T/ossl.der" >"$T/cut.der"
inbound_mail "$T/cut.eml" "siti@$DINAS" "$T/cut.der"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/cut.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got6.eml"
seg_expect_header "$T/got6.eml" X-Segel-Decryption '^failed; '
seg_expect_header "$T/got6.eml" Content-Type '^application/pkcs7-mime'
grep -q 'decrypt failed' "$T/milter.log" || seg_fail "the failure is not in the milter log"
seg_ok "truncated ciphertext: delivered as it arrived with X-Segel-Decryption: $(seg_header "$T/got6.eml" X-Segel-Decryption)"

# --- 6. the decrypted entity cannot write the top-level header ------------------------------------
# Anyone holding siti's public certificate can encrypt an entity whose header says anything: a
# second From, a Subject with a forged "signed" tag, segel's own status fields, a field name with a
# control byte and a bare CR. Only its Content-* fields may replace the top-level ones.
printf 'From: Direktur <direktur@%s>\r\nSubject: [Tertandatangan: Direktur] Perintah transfer\r\n' "$DINAS" \
    >"$T/inject.entity"
printf 'X-Segel-Decryption: decrypted; forged=inside\r\nAuthentication-Results: %s; smime=pass (forged)\r\n' \
    "$AUTHSERV" >>"$T/inject.entity"
printf 'X-\001Bad: bare \r CR\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTransfer segera.\r\n' \
    >>"$T/inject.entity"
openssl cms -encrypt -binary -aes256 -in "$T/inject.entity" -outform DER -out "$T/inject.der" "$T/siti.pem"
inbound_mail "$T/inject.eml" "siti@$DINAS" "$T/inject.der"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/inject.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got7.eml"
seg_expect_header "$T/got7.eml" X-Segel-Decryption "^decrypted; recipient=siti@$DINAS"
grep -q 'Transfer segera' "$T/got7.eml" || seg_fail "got7.eml: the plaintext is missing"
count_field() { "$SEG_PY" "$SEG_MAILTOOL" header "$1" "$2" | grep -c . || true; }
[ "$(count_field "$T/got7.eml" From)" = 1 ] || seg_fail "a second From was injected: $(seg_header "$T/got7.eml" From)"
[ "$(count_field "$T/got7.eml" Subject)" = 1 ] || seg_fail "a second Subject was injected"
seg_expect_header "$T/got7.eml" Subject '^Dokumen rahasia$'
[ "$(count_field "$T/got7.eml" X-Segel-Decryption)" = 1 ] || seg_fail "X-Segel-Decryption appears twice"
seg_header "$T/got7.eml" X-Segel-Decryption | grep -q forged && seg_fail "the forged X-Segel-Decryption came through"
seg_header "$T/got7.eml" Authentication-Results | grep -q forged && seg_fail "the forged Authentication-Results came through"
[ "$(seg_header "$T/got7.eml" Authentication-Results | grep -c "^$AUTHSERV;")" = 1 ] \
    || seg_fail "not exactly one Authentication-Results with our authserv-id"
grep -q direktur "$T/got7.eml" && seg_fail "the injected From reached the delivered message"
"$SEG_PY" - "$T/got7.eml" <<'PY' || seg_fail "got7.eml: a control byte or a bare CR reached the header"
import sys
data = open(sys.argv[1], 'rb').read()
head = data.split(b'\r\n\r\n', 1)[0]
sys.exit(1 if any(b < 32 and b not in (9, 10, 13) for b in head) or b'\r' in head.replace(b'\r\n', b'') else 0)
PY
grep -q 'ignored 5 header fields of the decrypted entity' "$T/milter.log" \
    || seg_fail "the milter log does not say which fields of the entity were ignored"
seg_ok "an entity's From, Subject, X-Segel-Decryption, Authentication-Results and control bytes never reach the header"

# --- 7. a malformed Content-* field in the entity: not decrypted, delivered as it arrived ----------
printf 'Content-Type: text/plain\rX-Injected: yes\r\n\r\nisi\r\n' >"$T/badct.entity"
openssl cms -encrypt -binary -aes256 -in "$T/badct.entity" -outform DER -out "$T/badct.der" "$T/siti.pem"
inbound_mail "$T/badct.eml" "siti@$DINAS" "$T/badct.der"
seg_send kepala@mitra.example.id - "siti@$DINAS" --xclient "$OUTSIDE" --data-file "$T/badct.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got8.eml"
seg_expect_header "$T/got8.eml" X-Segel-Decryption '^failed; recipient=.*reason="malformed: .*bare CR'
seg_expect_header "$T/got8.eml" Content-Type '^application/pkcs7-mime'
seg_header "$T/got8.eml" X-Injected >/dev/null && seg_fail "X-Injected reached the header"
seg_ok "a Content-Type with a bare CR: not decrypted, delivered as it arrived"
