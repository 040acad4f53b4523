#!/usr/bin/env bash
# Fitness for mail (R4), through real Postfix: the address in the subject's emailAddress counts when
# there is no subjectAltName (it signs, and segel's own verification matches it to From); a
# certificate shaped like BSrE's development certificate (critical EKU with only Adobe PDF signing,
# no subjectAltName, no keyEncipherment) is refused with the OIDs found and what to ask the RA for, in
# English and Indonesian, and certs / explain / check-config explain it in both languages; the
# per-domain document_signing_certificates: allow switch makes it sign, says so in the log line, and
# its consequence is real: openssl refuses the signature for S/MIME.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lifecycle-lib.sh"

seg_setup fitness
lc_setup
seg_start_sink
seg_start_postfix
for u in subjonly bsredev; do seg_add_user "$u@$DINAS" "$u-pw"; done
lc_config "$SEG_CONFIG" "subjonly bsredev" "revocation:
  timeout: 2s
  connect_timeout: 1s"
seg_start_milter
delivered=0

# --- 1. the address only in the subject emailAddress: signs; verification matches it to From ----------
seg_make_message "$T/s.eml" "Subjek <subjonly@$DINAS>" kepala@mitra.example "Alamat di subjek"
seg_send "subjonly@$DINAS" - kepala@mitra.example --auth "subjonly@$DINAS" subjonly-pw --data-file "$T/s.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
seg_delivered_copy "$T/got-s.eml"
openssl cms -verify -in "$T/got-s.eml" -CAfile "$LC/root.pem" -purpose smimesign -signer "$T/s-signer.pem" \
    -out /dev/null >"$T/openssl.err" 2>&1 || { cat "$T/openssl.err"; seg_fail "openssl rejects the subject-address signature"; }
openssl x509 -in "$T/s-signer.pem" -noout -subject | grep -q "emailAddress = subjonly@$DINAS" \
    || seg_fail "the signer is not the subject-address certificate"
openssl x509 -in "$T/s-signer.pem" -noout -ext subjectAltName 2>/dev/null | grep -q email && seg_fail "test bug: it has a SAN"
"$SEGELCTL" verify --config "$SEG_CONFIG" "$T/got-s.eml" >"$T/verify.out" 2>&1 \
    || { cat "$T/verify.out"; seg_fail "segelctl verify does not pass the subject-address signature"; }
grep -q "pass" "$T/verify.out" && grep -q "subjonly@$DINAS" "$T/verify.out" || { cat "$T/verify.out"; seg_fail "verify: $(cat "$T/verify.out")"; }
seg_ok "address only in the subject emailAddress: signed through Postfix, openssl accepts, segel verifies it as From"

# --- 2. the BSrE development shape: refused, in both languages, with the OIDs ------------------------------
seg_make_message "$T/b.eml" "BSrE Dev <bsredev@$DINAS>" kepala@mitra.example "Sertifikat dokumen"
seg_send "bsredev@$DINAS" - kepala@mitra.example --auth "bsredev@$DINAS" bsredev-pw --data-file "$T/b.eml"
seg_expect_reply "^550 5\.7\.1 no valid certificate for bsredev@dinas\.example\.go\.id: extended key usage does not include emailProtection \(1\.3\.6\.1\.5\.5\.7\.3\.4\); it has only 1\.2\.840\.113583\.1\.1\.5 \(Adobe PDF signing\), critical; ask the RA \(Dinas Kominfo\) for an e-mail \(S/MIME\) certificate / sertifikat ini bukan untuk e-mail \(tanpa emailProtection\): mintalah sertifikat e-mail \(S/MIME\) kepada RA \(Dinas Kominfo\)$"
"$SEGELCTL" certs --config "$SEG_CONFIG" >"$T/certs.out" 2>&1 || { cat "$T/certs.out"; seg_fail "certs failed"; }
"$SEG_PY" - "$T/certs.out" <<'EOF' || { cat "$T/certs.out"; seg_fail "certs does not explain the BSrE development certificate in both languages"; }
import sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if "bsredev@" in l and not l.startswith(" "))
block = lines[start + 1:]
block = block[:next((i for i, l in enumerate(block) if not l.startswith(" ")), len(block))]
text = "\n".join(block)
i_id = text.index("tidak dapat menandatangani e-mail: extended key usage (ditandai kritis) hanya berisi 1.2.840.113583.1.1.5")
i_en = text.index("cannot sign mail: the extended key usage (marked critical) lists only 1.2.840.113583.1.1.5")
assert i_id < i_en, "Indonesian first"
assert "minta kepada RA (Dinas Kominfo): sertifikat untuk pengamanan e-mail (S/MIME)" in text
assert "ask the RA (Dinas Kominfo) for: a certificate for e-mail protection (S/MIME)" in text
assert "cannot receive encrypted mail: the key usage (digitalSignature, nonRepudiation) lacks keyAgreement" in text
assert "note: the address is only in the subject's emailAddress" in text
EOF
rc=0
"$SEGELCTL" explain --config "$SEG_CONFIG" --from "bsredev@$DINAS" --login "bsredev@$DINAS" >"$T/explain.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "      tidak dapat menandatangani e-mail: extended key usage" "$T/explain.out" \
    && grep -q "        ask the RA (Dinas Kominfo) for: a certificate for e-mail protection" "$T/explain.out" \
    || { cat "$T/explain.out"; seg_fail "explain does not give the bilingual explanation"; }
rc=0
"$SEGELCTL" check-config "$SEG_CONFIG" --strict >"$T/check.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] && grep -q "certificate $(lc_serial bsredev) cannot sign mail: the extended key usage (marked critical) lists only 1.2.840.113583.1.1.5 (Adobe PDF signing)" "$T/check.out" \
    && grep -q "/ tidak dapat menandatangani e-mail: extended key usage" "$T/check.out" \
    || { cat "$T/check.out"; seg_fail "check-config --strict does not fail on the unfit certificate (exit $rc)"; }
seg_ok "BSrE development shape: 550 with the OIDs and the RA request in English and Indonesian; certs, explain, check-config explain it"

# --- 3. the compatibility switch: it signs, the log says so, and recipients' tools do refuse it --------------
sed "s|^    - domain: $DINAS\$|    - domain: $DINAS\n      document_signing_certificates: allow|" "$SEG_CONFIG" >"$T/compat.yaml"
grep -q "document_signing_certificates: allow" "$T/compat.yaml" || seg_fail "test bug: the switch is not in the configuration"
cp "$T/compat.yaml" "$SEG_CONFIG"
kill -USR1 "$SEG_MILTER_PID"
lc_wait_log "reload status=ok "
seg_send "bsredev@$DINAS" - kepala@mitra.example --auth "bsredev@$DINAS" bsredev-pw --data-file "$T/b.eml"
seg_expect_reply '^250 '
seg_wait_delivered $((delivered += 1))
grep -q "sign from=<bsredev@$DINAS> .*compatibility=\"document-signing certificate (extended key usage 1.2.840.113583.1.1.5 (Adobe PDF signing), critical, no emailProtection) accepted by $DINAS document_signing_certificates: allow; recipients' mail programs may warn\"" "$T/milter.log" \
    || seg_fail "the sign log line does not name the compatibility switch"
seg_delivered_copy "$T/got-b.eml"
openssl cms -verify -in "$T/got-b.eml" -CAfile "$LC/root.pem" -purpose smimesign -out /dev/null >"$T/strict.err" 2>&1 \
    && seg_fail "openssl accepted a document-signing certificate for S/MIME: the documented consequence is wrong"
grep -q "unsuitable certificate purpose" "$T/strict.err" || { cat "$T/strict.err"; seg_fail "openssl refused it for another reason"; }
openssl cms -verify -in "$T/got-b.eml" -CAfile "$LC/root.pem" -purpose any -out /dev/null >/dev/null 2>&1 \
    || seg_fail "the compatibility signature does not verify at all"
"$SEGELCTL" explain --config "$SEG_CONFIG" --from "bsredev@$DINAS" --login "bsredev@$DINAS" >"$T/explain2.out" 2>&1 \
    || { cat "$T/explain2.out"; seg_fail "explain refuses under the switch"; }
grep -q "catatan: dipakai menandatangani hanya karena $DINAS memasang document_signing_certificates: allow" "$T/explain2.out" \
    || { cat "$T/explain2.out"; seg_fail "explain does not show the compatibility note"; }
seg_ok "document_signing_certificates: allow signs, logs compatibility=..., and openssl -purpose smimesign refuses it (unsuitable certificate purpose)"
