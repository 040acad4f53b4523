#!/usr/bin/env bash
# Outbound signing through real Postfix: staff mail is signed with the sender's own certificate
# (R1, R3, R4), the newest of several valid certificates is used (R5), the signature survives
# transport byte-exact for hostile MIME (R9) and is accepted by independent verifiers
# (openssl cms and gpgsm; Bouncy Castle too for the hostile and the opaque message); opaque format
# works; already-signed mail is left alone.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup outbound-sign
seg_standard_start
seg_add_user "siti@$DINAS" siti-pw
seg_add_user budi budi-pw
seg_add_user rina@kominfo.examplekab.go.id rina-pw
delivered=0

# --- siti, full-address login, RSA, two valid certificates ----------------------------------------
seg_make_message "$T/siti.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Undangan rapat"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/siti.eml"
seg_expect_reply '^250 2\.0\.0 Ok: queued as '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-siti.eml"
seg_expect_header "$T/got-siti.eml" Content-Type '^multipart/signed;.*protocol="?application/(x-)?pkcs7-signature"?'
seg_expect_header "$T/got-siti.eml" Subject '^Undangan rapat$'
seg_expect_signed "$T/got-siti.eml" "siti@$DINAS"
[ "$(seg_signer_serial)" = "$(seg_cert_serial "$PKI/siti.crt")" ] \
    || seg_fail "signed with serial $(seg_signer_serial), expected siti's newest certificate $(seg_cert_serial "$PKI/siti.crt") (siti-old is $(seg_cert_serial "$PKI/siti-old.crt"))"
seg_ok "siti@$DINAS signed with her newest certificate; openssl and gpgsm verify"

# --- budi, bare login mapped by signing.logins, EC P-256 --------------------------------------------
seg_send "budi@$DINAS" "Budi Santoso <budi@$DINAS>" kepala@mitra.example --auth budi budi-pw --subject "Laporan mingguan"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-budi.eml"
seg_expect_signed "$T/got-budi.eml" "budi@$DINAS"
openssl x509 -in "$T/openssl-signer.pem" -noout -text | grep -q 'id-ecPublicKey' \
    || seg_fail "budi's signer certificate is not the EC one"
seg_ok "login budi signs as budi@$DINAS with an EC key; both verifiers agree"

# --- rina, official subdomain of examplekab.go.id ---------------------------------------------------
seg_send rina@kominfo.examplekab.go.id rina@kominfo.examplekab.go.id kepala@mitra.example \
    --auth rina@kominfo.examplekab.go.id rina-pw
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-rina.eml"
seg_expect_signed "$T/got-rina.eml" rina@kominfo.examplekab.go.id
seg_ok "rina@kominfo.examplekab.go.id (subdomain of examplekab.go.id) signed"

# --- hostile MIME: nested multipart, attachment, message/rfc822, 8bit UTF-8, trailing spaces, -----
# --- "From " line, leading dot, 200-character line, LF-only line ends in the file ---------------
long_line=$(printf 'panjang%.0s' $(seq 1 30) | cut -c1-200)
attachment=$(head -c 3000 /dev/urandom | base64 -w 76)
cat >"$T/complex.eml" <<EOF
Date: $(LC_ALL=C date -R)
Message-ID: <complex.$$@dinas.example.go.id>
From: Siti Rahmawati <siti@$DINAS>
To: kepala@mitra.example
Subject: Ringkasan rapat — anggaran ✓ (ditandatangani)
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==outer=="

This is a multi-part message in MIME format.
--==outer==
Content-Type: multipart/mixed; boundary="==inner=="

--==inner==
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Yth. Bapak/Ibu — ringkasan rapat koordinasi.
This line has trailing spaces   
From the minutes: anggaran disetujui.
.a line that starts with a dot
$long_line
Terima kasih, salam hormat — Siti.
--==inner==
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Ringkasan rapat =E2=80=94 anggaran disetujui.</p>
--==inner==--

--==outer==
Content-Type: application/pdf; name="laporan.pdf"
Content-Disposition: attachment; filename="laporan.pdf"
Content-Transfer-Encoding: base64

$attachment
--==outer==
Content-Type: message/rfc822
Content-Disposition: attachment

From: Budi Santoso <budi@$DINAS>
To: siti@$DINAS
Subject: Draf notulen
Date: Fri, 20 Nov 2026 10:00:00 +0700
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Draf notulen terlampir — mohon dicek.
From Budi, with love   
--==outer==--
EOF
[ "$(printf '%s' "$long_line" | wc -c)" -eq 200 ] || seg_fail "test bug: long line is not 200 characters"
if grep -q $'\r' "$T/complex.eml"; then seg_fail "test bug: complex.eml should have LF line ends"; fi
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/complex.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-complex.eml"
seg_expect_header "$T/got-complex.eml" Content-Type '^multipart/signed;'
seg_expect_header "$T/got-complex.eml" Subject 'Ringkasan rapat'
seg_expect_signed "$T/got-complex.eml" "siti@$DINAS"
grep -q 'filename="laporan.pdf"' "$T/gpgsm-parts/signed-part" || seg_fail "the attachment is not inside the signed part"
grep -q '^Subject: Draf notulen' "$T/gpgsm-parts/signed-part" || seg_fail "the attached message is not inside the signed part"
got=$(seg_verify_bc "$T/got-complex.eml") || seg_fail "Bouncy Castle rejects the complex message: $(cat "$T/bc.out")"
[ "$got" = "siti@$DINAS" ] || seg_fail "Bouncy Castle: signer is '$got'"
seg_ok "nested multipart + attachment + message/rfc822 + 8bit UTF-8 + trailing spaces + 'From ' + 200-char line: openssl, gpgsm and Bouncy Castle verify"

# --- an already-signed message is passed on unchanged -----------------------------------------------
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nodes -nocerts -out "$T/siti.key" 2>/dev/null
openssl pkcs12 -in "$PKI/siti.p12" -passin "file:$PKI/siti.pass" -nokeys -clcerts -out "$T/siti.pem" 2>/dev/null
printf 'Content-Type: text/plain; charset=utf-8\n\nSudah ditandatangani di klien surel.\n' >"$T/entity"
{
    printf 'Date: %s\nMessage-ID: <presigned.%s@dinas.example.go.id>\n' "$(LC_ALL=C date -R)" "$$"
    printf 'From: Siti Rahmawati <siti@%s>\nTo: kepala@mitra.example\nSubject: signed by the client\n' "$DINAS"
    openssl cms -sign -in "$T/entity" -signer "$T/siti.pem" -inkey "$T/siti.key" \
        -certfile "$PKI/intermediate.pem" -md sha256
} >"$T/presigned.eml"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/presigned.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-presigned.eml"
seg_body "$T/got-presigned.eml" >"$T/got-presigned.body"
seg_crlf "$T/presigned.eml" "$T/presigned.crlf"
seg_body "$T/presigned.crlf" >"$T/want-presigned.body"
cmp "$T/want-presigned.body" "$T/got-presigned.body" || seg_fail "an already-signed message's body was changed"
[ "$(seg_header "$T/got-presigned.eml" Content-Type)" = "$(seg_header "$T/presigned.crlf" Content-Type)" ] \
    || seg_fail "an already-signed message's Content-Type was changed"
seg_expect_signed "$T/got-presigned.eml" "siti@$DINAS"
seg_ok "an already-signed message is delivered with its body byte-for-byte unchanged"

# --- opaque format (application/pkcs7-mime; smime-type=signed-data) ---------------------------------
seg_stop_milter
SEG_CFG_FORMAT=opaque seg_write_config "$T/opaque.yaml"
seg_start_milter "$T/opaque.yaml"
seg_make_message "$T/opaque-in.eml" "Siti Rahmawati <siti@$DINAS>" kepala@mitra.example "Surat edaran (opaque)" \
    "Isi surat edaran." "From the office, with trailing space " "Salam"
seg_send "siti@$DINAS" - kepala@mitra.example --auth "siti@$DINAS" siti-pw --data-file "$T/opaque-in.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-opaque.eml"
seg_expect_header "$T/got-opaque.eml" Content-Type '^application/(x-)?pkcs7-mime;.*smime-type="?signed-data'
seg_expect_signed "$T/got-opaque.eml" "siti@$DINAS"
grep -q 'Isi surat edaran.' "$T/gpgsm-parts/content" || seg_fail "gpgsm's unwrapped content lacks the body text"
got=$(seg_verify_bc "$T/got-opaque.eml") || seg_fail "Bouncy Castle rejects the opaque signature: $(cat "$T/bc.out")"
[ "$got" = "siti@$DINAS" ] || seg_fail "Bouncy Castle: signer is '$got'"
seg_ok "opaque signature: application/pkcs7-mime signed-data, openssl, gpgsm and Bouncy Castle agree"

[ "$(seg_sink_count)" -eq "$delivered" ] || seg_fail "sink holds $(seg_sink_count) messages, expected $delivered"
