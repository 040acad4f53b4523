#!/usr/bin/env bash
# Outbound encryption through real Postfix (R1, R9; docs/encryption.md): opportunistic encrypts
# when every recipient has a certificate and sends signed-only otherwise; a domain's "required"
# refuses with 550 5.7.1 naming the recipients without one; the [RAHASIA] subject trigger makes a
# message required and is removed on the way out; a GCM opt-in gives authEnveloped-data. What
# leaves is decrypted by openssl cms and by gpgsm (RSA) and by openssl (EC), and the inner
# signature verifies; the sender's own certificate is always a recipient.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/enc-lib.sh"

seg_setup encrypt-outbound
seg_start_sink
seg_start_postfix
seg_add_user "siti@$DINAS" siti-pw
delivered=0

enc_partner kepala kepala@mitra.example.id rsa
enc_partner staf staf@mitra.example.id ec
enc_partner direktur direktur@rahasia.example.id rsa
enc_publish kepala kepala@mitra.example.id
enc_publish staf staf@mitra.example.id
enc_publish direktur direktur@rahasia.example.id
enc_write_config "$SEG_CONFIG" "  policy: opportunistic
  domains:
    - domain: wajib.example.id
      policy: required
    - domain: rahasia.example.id
      policy: required
      cipher: aes-256-gcm"
seg_start_milter

send_siti() { # TO SUBJECT
    seg_make_message "$T/m.eml" "Siti Rahmawati <siti@$DINAS>" "$1" "$2" "Isi surat yang rahasia." "Salam"
    seg_send "siti@$DINAS" - "$1" --auth "siti@$DINAS" siti-pw --data-file "$T/m.eml"
}

# --- 1. opportunistic, every recipient has a certificate (RSA + EC): encrypted ----------------------
send_siti kepala@mitra.example.id,staf@mitra.example.id "Undangan rapat"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got1.eml"
seg_expect_header "$T/got1.eml" Content-Type '^application/pkcs7-mime; smime-type=enveloped-data'
grep -q 'Isi surat' "$T/got1.eml" && seg_fail "the plaintext is visible in the encrypted message"
enc_openssl_decrypt "$T/got1.eml" kepala "$T/inner-kepala.eml" || { cat "$T/openssl-decrypt.err" >&2; seg_fail "openssl cms cannot decrypt for kepala (RSA)"; }
enc_openssl_decrypt "$T/got1.eml" staf "$T/inner-staf.eml" || { cat "$T/openssl-decrypt.err" >&2; seg_fail "openssl cms cannot decrypt for staf (EC)"; }
cmp -s "$T/inner-kepala.eml" "$T/inner-staf.eml" || seg_fail "RSA and EC recipients got different plaintexts"
grep -q '^Content-Type: multipart/signed' "$T/inner-kepala.eml" || seg_fail "the encrypted entity is not the signed message (sign, then encrypt)"
{ printf 'From: siti@%s\r\n' "$DINAS"; cat "$T/inner-kepala.eml"; } >"$T/inner-msg.eml"
seg_expect_signed "$T/inner-msg.eml" "siti@$DINAS"
enc_gpgsm_decrypt "$T/got1.eml" kepala "$T/inner-gpgsm.eml" || { cat "$T/gpgsm-decrypt.err" >&2; seg_fail "gpgsm cannot decrypt for kepala"; }
tr -d '\r' <"$T/inner-gpgsm.eml" | grep -q 'Isi surat' || seg_fail "gpgsm's plaintext lacks the text"
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nodes -nocerts -out "$T/siti.key" 2>/dev/null
openssl cms -decrypt -in "$T/got1.eml" -inkey "$T/siti.key" -recip "$PKI/siti.crt" -out /dev/null 2>/dev/null \
    || seg_fail "the sender's own certificate is not a recipient"
grep -q 'encrypt from=<siti@' "$T/milter.log" || seg_fail "no encrypt line in the milter log"
seg_ok "opportunistic with all certificates: signed then encrypted; openssl (RSA, EC) and gpgsm decrypt; inner signature verifies"

# --- 2. opportunistic, one recipient without a certificate: signed only ----------------------------
send_siti kepala@mitra.example.id,tamu@lain.example "Undangan rapat"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got2.eml"
seg_expect_header "$T/got2.eml" Content-Type '^multipart/signed;'
seg_expect_signed "$T/got2.eml" "siti@$DINAS"
seg_ok "opportunistic without a certificate for every recipient: signed only"

# --- 3. required by domain rule: 550 5.7.1 naming exactly who lacks a certificate ------------------
send_siti pejabat@wajib.example.id,kepala@mitra.example.id "Nota dinas"
seg_expect_reply '^550 5\.7\.1 .*no usable certificate for: pejabat@wajib\.example\.id;'
case $SEG_REPLY in *kepala@*) seg_fail "the refusal names kepala, who has a certificate: $SEG_REPLY" ;; esac
seg_ok "required: refused with '$SEG_REPLY'"

# --- 4. the subject trigger: required, and removed from the subject --------------------------------
send_siti kepala@mitra.example.id "[RAHASIA] Anggaran 2027"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got4.eml"
seg_expect_header "$T/got4.eml" Subject '^Anggaran 2027$'
seg_expect_header "$T/got4.eml" Content-Type '^application/pkcs7-mime; smime-type=enveloped-data'
send_siti tamu@lain.example "[RAHASIA] Anggaran 2027"
seg_expect_reply '^550 5\.7\.1 encryption is required \(subject \[RAHASIA\]\) but there is no usable certificate for: tamu@lain\.example'
seg_ok "subject trigger: encrypted with the keyword removed; refused for a recipient without a certificate"

# --- 5. GCM opt-in: authEnveloped-data (RFC 5083) --------------------------------------------------
send_siti direktur@rahasia.example.id "Laporan"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got5.eml"
seg_expect_header "$T/got5.eml" Content-Type '^application/pkcs7-mime; smime-type=authEnveloped-data'
enc_openssl_decrypt "$T/got5.eml" direktur "$T/inner5.eml" || { cat "$T/openssl-decrypt.err" >&2; seg_fail "openssl cannot decrypt AES-256-GCM"; }
openssl cms -cmsout -print -in "$T/got5.eml" 2>/dev/null | grep -q 'aes-256-gcm' || seg_fail "not AES-256-GCM"
grep -q '^Content-Type: multipart/signed' "$T/inner5.eml" || seg_fail "GCM entity is not the signed message"
seg_ok "GCM opt-in: authEnveloped-data AES-256-GCM; openssl decrypts"
