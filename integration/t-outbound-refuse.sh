#!/usr/bin/env bash
# Outbound refusals: no signing as someone else (R3), never with an expired, wrong-purpose or
# untrusted certificate (R5), official senders without a certificate and non-official senders are
# refused by default (R2); each refusal is a 550 5.7.1 that says why, and nothing is delivered.
# With without_certificate: pass the certificate-less official sender goes out unsigned.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

seg_setup outbound-refuse
seg_standard_start
for login in "siti@$DINAS" budi "ani@$DINAS" "dedi@$DINAS" "eko@$DINAS" "fajar@$DINAS" \
    "tono@$DINAS" someone@gmail.example; do
    seg_add_user "$login" "pw-${login%%@*}"
done

# refuse NAME LOGIN ENVELOPE_FROM HEADER_FROM ERE
refuse() {
    local what=$1 login=$2 env=$3 hdr=$4 ere=$5
    seg_send "$env" "$hdr" kepala@mitra.example --auth "$login" "pw-${login%%@*}" --subject "uji: $what"
    seg_expect_reply "$ere"
    seg_ok "$what: $SEG_REPLY"
}

refuse "login budi as siti" budi "siti@$DINAS" "Siti Rahmawati <siti@$DINAS>" \
    '^550 5\.7\.1 login budi may not send as siti@dinas\.example\.go\.id$'

refuse "envelope sender differs from header From" "siti@$DINAS" "siti@$DINAS" "Budi Santoso <budi@$DINAS>" \
    '^550 5\.7\.1 '
printf '%s\n' "$SEG_REPLY" | grep -q "siti@$DINAS" || seg_fail "reply does not name the envelope sender siti@$DINAS"
printf '%s\n' "$SEG_REPLY" | grep -q "budi@$DINAS" || seg_fail "reply does not name the header From budi@$DINAS"

refuse "expired certificate (ani)" "ani@$DINAS" "ani@$DINAS" "ani@$DINAS" \
    '^550 5\.7\.1 no valid certificate for ani@dinas\.example\.go\.id: expired 2026-01-01'

refuse "wrong extended key usage (dedi, serverAuth only)" "dedi@$DINAS" "dedi@$DINAS" "dedi@$DINAS" \
    '^550 5\.7\.1 .*no valid certificate.*dedi@dinas\.example\.go\.id'

refuse "issued by an untrusted root (eko)" "eko@$DINAS" "eko@$DINAS" "eko@$DINAS" \
    '^550 5\.7\.1 .*no valid certificate.*eko@dinas\.example\.go\.id'

refuse "keyUsage without digitalSignature/nonRepudiation (fajar)" "fajar@$DINAS" "fajar@$DINAS" "fajar@$DINAS" \
    '^550 5\.7\.1 .*no valid certificate.*fajar@dinas\.example\.go\.id'

refuse "official sender without any certificate (tono)" "tono@$DINAS" "tono@$DINAS" "tono@$DINAS" \
    '^550 5\.7\.1 .*no certificate.*tono@dinas\.example\.go\.id'

refuse "non-official sender (other_senders: reject)" someone@gmail.example someone@gmail.example \
    someone@gmail.example '^550 5\.7\.1 '

# Nothing may have left the gateway.
sleep 1
[ "$(seg_sink_count)" -eq 0 ] || seg_fail "a refused message reached the sink"
if grep -q 'status=sent' "$T/maillog"; then seg_fail "Postfix delivered something although every case was refused"; fi
seg_ok "none of the refused messages was delivered"

# --- without_certificate: pass → tono's mail goes out unsigned ------------------------------------
seg_stop_milter
SEG_CFG_WITHOUT_CERT=pass seg_write_config "$T/pass.yaml"
seg_start_milter "$T/pass.yaml"
seg_make_message "$T/tono.eml" "Tono <tono@$DINAS>" kepala@mitra.example "Tanpa sertifikat"
seg_send "tono@$DINAS" - kepala@mitra.example --auth "tono@$DINAS" pw-tono --data-file "$T/tono.eml"
seg_expect_reply '^250 '
seg_wait_delivered 1
seg_delivered_copy "$T/got-tono.eml"
seg_expect_unsigned "$T/got-tono.eml"
seg_expect_header "$T/got-tono.eml" Subject '^Tanpa sertifikat$'
if grep -qi 'multipart/signed\|pkcs7' "$T/got-tono.eml"; then seg_fail "tono's message carries S/MIME parts"; fi
seg_body "$T/got-tono.eml" >"$T/got-tono.body"
seg_crlf "$T/tono.eml" "$T/tono.crlf"
seg_body "$T/tono.crlf" | cmp - "$T/got-tono.body" || seg_fail "tono's unsigned body was changed"
seg_ok "without_certificate: pass delivers tono's mail unsigned and unchanged"

